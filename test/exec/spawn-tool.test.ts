import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { text } from 'node:stream/consumers';
import { spawnStreamingTool } from '../../src/exec/spawn-tool.js';

test('a streaming tool keeps its whole output for a reader that comes after it exited', async () => {
  const tool = await spawnStreamingTool(['sh', '-c', 'printf "all of it"; printf "oops" >&2; exit 3']);
  assert.equal(await tool.ended, { exitCode: 3, stderr: 'oops' });
  assert.is(await text(tool.stdout), 'all of it');
});

test('under a umask, with its stdin fed; a missing tool ends with -1 and says why', async () => {
  const tool = await spawnStreamingTool(['sh', '-c', 'umask; cat'], { umask: 0o027 });
  tool.stdin.end('fed\n');
  assert.is(await text(tool.stdout), '0027\nfed\n');
  const missing = await spawnStreamingTool(['vmbatch-no-such-tool']);
  const ended = await missing.ended;
  assert.is(ended.exitCode, -1);
  assert.match(ended.stderr, 'vmbatch-no-such-tool');
});

test.run();
