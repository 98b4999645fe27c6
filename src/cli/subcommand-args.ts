import { parseArgs } from 'node:util';
import { VmbatchError } from '../errors/vmbatch-error.js';

/**
 * A subcommand's options and positionals: `count` positionals exactly (-1: any number, `what`
 * names one in the message), unknown options refused; a problem is USAGE_INVALID.
 */
export function parseSubcommandArgs<T extends Record<string, { type: 'boolean' | 'string' }>>(argv: string[], options: T, count: number, what = 'TEMPLATE') {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    if (count >= 0 && parsed.positionals.length !== count) throw new Error(count === 1 ? `give exactly one ${what}` : `unexpected argument '${parsed.positionals[count]}'`);
    return parsed;
  } catch (error) {
    throw new VmbatchError('USAGE_INVALID', { problems: [(error as Error).message] });
  }
}
