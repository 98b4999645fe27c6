import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { shellAssignments, shellQuote } from '../../src/shell/quote.js';

const nasty = ["it's", 'a b', '$(touch /tmp/pwned)', '`id`', 'x\ny', '"q"', '\\', '', '*', '-n'];

test('quoted words come back unchanged from a real shell', async () => {
  for (const word of nasty) {
    const { stdout } = await execa('/bin/sh', ['-c', `printf '%s' ${shellQuote(word)}`], { stripFinalNewline: false });
    assert.is(stdout, word);
  }
});

test('assignments source safely and reject bad names', async () => {
  const text = shellAssignments({ A: nasty.join('|'), B: 42 });
  const { stdout } = await execa('/bin/sh', ['-c', `${text}\nprintf '%s/%s' "$A" "$B"`]);
  assert.is(stdout, `${nasty.join('|')}/42`);
  assert.throws(() => shellAssignments({ 'A;B': 'x' }), /not a shell variable name: A;B/);
});

test.run();
