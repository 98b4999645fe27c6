import { VmbatchError } from '../errors/vmbatch-error.js';
import { watchConsole } from './console-watcher.js';
import { watchDomainStop } from './domain-stop-watcher.js';

/**
 * Waits, by events only, until the guest reports ready on its console; fails fast when the
 * guest reports a failure or the domain stops, and after `timeoutMs` at the latest.
 */
export async function waitForReady(input: { uri: string; domainName: string; consoleFile: string; nonce: string; timeoutMs: number }): Promise<{ detail: string }> {
  const console = watchConsole(input.consoleFile, input.nonce);
  const stop = watchDomainStop(input.uri, input.domainName);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), input.timeoutMs)));
  try {
    const outcome = await Promise.race([console.signal, stop.stopped.then((how) => ({ kind: 'stopped' as const, how })), timeout]);
    if (outcome === 'timeout') {
      throw new VmbatchError('GUEST_NOT_READY', { domain: input.domainName, seconds: Math.round(input.timeoutMs / 1000), consoleTail: console.tail() });
    }
    if (outcome.kind === 'failed') throw new VmbatchError('GUEST_PROLOG_FAILED', { domain: input.domainName, reason: outcome.detail || 'no reason given' });
    if (outcome.kind === 'stopped') throw new VmbatchError('GUEST_STOPPED', { domain: input.domainName, consoleTail: console.tail() });
    return { detail: outcome.detail };
  } finally {
    clearTimeout(timer);
    console.close();
    stop.close();
  }
}
