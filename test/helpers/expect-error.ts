import * as assert from 'uvu/assert';
import { VmbatchError } from '../../src/errors/vmbatch-error.js';

/** Asserts that `fn` rejects with a catalogue error of `code` and returns it. */
export async function expectVmbatchError(fn: () => unknown, code: string): Promise<VmbatchError> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof VmbatchError)) throw error;
    assert.is(error.code, code, error.message);
    return error;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}
