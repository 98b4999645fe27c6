import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runOverConsole } from '../../src/remoteshell/console-session.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

// A console that answers the protocol one byte per write, so every marker is split across reads.
async function withConsole(payload: (token: string) => string, body: (socket: string) => Promise<void>, hangUp = false): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-console-'));
  const path = join(dir, 'console.sock');
  const server = createServer((s: Socket) => {
    let input = '';
    let asked = false;
    const answer = async (d: Buffer) => {
      input += d.toString('latin1');
      if (!asked && input.includes('\n')) {
        asked = true;
        s.write('$ noise before the job\x1evmbatch-token\x1e');
        return;
      }
      const lines = input.split('\n');
      if (asked && lines.length >= 3) {
        const token = lines[1]!;
        const text = `\x1e${token} START\x1e${payload(token)}`;
        for (const ch of text) await new Promise<void>((r) => s.write(Buffer.from(ch, 'latin1'), () => r()));
        if (hangUp) s.destroy();
      }
    };
    s.on('data', (d: Buffer) => void answer(d));
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    await body(path);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the job output between the markers arrives byte for byte, with the real exit status', async () => {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (d: Buffer) => chunks.push(d));
  await withConsole(
    (token) => `line\n\x1efake EXIT 0\x1e\xff\x00bin\x1e${token} EXIT 42\x1e$ prompt after`,
    async (socket) => assert.is(await runOverConsole(socket, 'true', out), 42),
  );
  assert.ok(Buffer.concat(chunks).equals(Buffer.from('line\n\x1efake EXIT 0\x1e\xff\x00bin', 'latin1')));
});

test('a console that closes before the job ends is a clear error', async () => {
  await withConsole(
    () => 'partial output',
    async (socket) => {
      const error = await expectVmbatchError(() => runOverConsole(socket, 'true', new PassThrough()), 'CONSOLE_FAILED');
      assert.is(error.message, `cannot run the job on the guest's login console ${socket}: the console closed before the job ended`);
    },
    true,
  );
});

test.run();
