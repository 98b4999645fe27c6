// What a guest wrote, quoted to a terminal: no escape sequences, bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { printableTail } from '../../src/log/printable-tail.js';

test('escape sequences and control bytes are removed, empty lines dropped, the last lines kept', () => {
  const text = 'one\r\n\x1b[2J\x1b]0;owned\x07two\x00\n\n   \nthree\xe9\n';
  assert.is(printableTail(text, { lines: 2, chars: 100 }, false), ']0;ownedtwo\nthree');
});

test('a text cut at its front loses its first (partial) line; the character bound keeps the end', () => {
  assert.is(printableTail('rtial\nwhole\n', { lines: 5, chars: 100 }, true), 'whole');
  assert.is(printableTail('x'.repeat(50), { lines: 5, chars: 10 }, false), '...xxxxxxxxxx');
});

test.run();
