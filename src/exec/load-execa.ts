import type * as execaModule from 'execa';

/**
 * execa, loaded when the first subprocess starts: a hook that refuses its arguments, or a
 * command that runs no tool (validate), does not pay for evaluating it at start-up.
 */
export function loadExeca(): Promise<typeof execaModule> {
  return import('execa');
}
