import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createProgressBar } from '../../src/images/progress-bar.js';

test('draws percent, sizes and rate, at most ten times a second, and ends the line', () => {
  let now = 0;
  const out: string[] = [];
  const bar = createProgressBar({ write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream, () => now);
  now = 1000;
  bar.update('img', 50 * 1048576, 200 * 1048576);
  now = 1050;
  bar.update('img', 60 * 1048576, 200 * 1048576);
  assert.is(out.length, 1, 'no redraw within 100 ms');
  now = 2000;
  bar.update('img', 200 * 1048576, 200 * 1048576);
  bar.finish();
  assert.equal(out, [
    '\rimg [########......................]  25%  50.0/200.0 MiB  50.0 MiB/s\x1b[K',
    '\rimg [##############################] 100%  200.0/200.0 MiB  100.0 MiB/s\x1b[K',
    '\rimg [##############################] 100%  200.0/200.0 MiB  100.0 MiB/s\x1b[K',
    '\n',
  ]);
});

test('an unknown size shows bytes and rate only', () => {
  const out: string[] = [];
  let now = 0;
  const bar = createProgressBar({ write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream, () => now);
  now = 1000;
  bar.update('img', 1048576, undefined);
  assert.is(out[0], '\rimg  1.0 MiB  1.0 MiB/s\x1b[K');
});

test.run();
