// How remoteshell tells a stopped guest from a broken session: qemu holds the channel's listening end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { probeGuest } from '../../src/remoteshell/lost-guest.js';

// A stand-in for qemu's end of the channel, answering each connection as `answer` says.
async function withChannel(answer: (c: Socket) => void, body: (socket: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync('/tmp/vmbatch-probe-');
  const server = createServer(answer);
  const socket = join(dir, 'ssh.sock');
  try {
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    await body(socket);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('qemu gone: no socket file, or a file nobody listens on, is a stopped guest', async () => {
  const dir = mkdtempSync('/tmp/vmbatch-probe-');
  try {
    assert.is(await probeGuest(join(dir, 'ssh.sock')), 'stopped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a dying qemu that still accepts and drops the connection is a stopped guest', () =>
  withChannel(
    (c) => c.destroy(),
    async (socket) => assert.is(await probeGuest(socket), 'stopped'),
  ));

test('a live guest starts a session on the channel: the session broke, the guest runs', () =>
  withChannel(
    (c) => c.write('vmbatch-ssh-channel\n'),
    async (socket) => assert.is(await probeGuest(socket), 'session-broken'),
  ));

test('a guest that keeps the connection but says nothing still runs (hung)', () =>
  withChannel(
    () => undefined,
    async (socket) => assert.is(await probeGuest(socket, 200), 'session-broken'),
  ));

test.run();
