// The host side of the SSH channel: what the guest queued from an earlier session never reaches
// the new SSH client, and the client sends nothing before the guest began a fresh session.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openSshChannel } from '../../src/remoteshell/ssh-channel.js';

// A stand-in for the guest's port: a unix socket server whose connection the test drives.
async function guestPort(): Promise<{ path: string; peer: Promise<Socket>; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-channel-'));
  const path = join(dir, 'ssh.sock');
  let accept!: (s: Socket) => void;
  const peer = new Promise<Socket>((resolve) => (accept = resolve));
  const server = createServer(accept);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    peer,
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const received = (socket: Socket) => new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))));

test('stale bytes of an earlier session are dropped; the session starts after the marker line; nothing is sent before it', async () => {
  const port = await guestPort();
  try {
    const opening = openSshChannel(port.path, 5000);
    const guest = await port.peer;
    const sentEarly: Buffer[] = [];
    guest.on('data', (d: Buffer) => sentEarly.push(d));
    // the tail of the previous session (binary SSH packets), split marker, then the new server's version
    guest.write(Buffer.from([0x00, 0x00, 0x01, 0x0c, 0x0a, 0xff, 0x76]));
    guest.write('vmbatch-ssh-');
    await new Promise((r) => setImmediate(r));
    guest.write('channel\r\nSSH-2.0-dropbear\r\n');
    const socket = await opening;
    assert.equal(sentEarly, [], 'the client sent nothing before the marker');
    socket.resume();
    assert.is(await received(socket), 'SSH-2.0-dropbear\r\n');
    socket.write('SSH-2.0-client\r\n');
    await new Promise((r) => setTimeout(r, 20));
    assert.is(Buffer.concat(sentEarly).toString(), 'SSH-2.0-client\r\n');
    socket.destroy();
  } finally {
    port.close();
  }
});

test('a guest that never begins a session, or closes the channel, is a clear error', async () => {
  const silent = await guestPort();
  try {
    const error = await openSshChannel(silent.path, 300).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.is(error?.message, "no SSH session began on the channel within 0.3 s (a guest writes 'vmbatch-ssh-channel' before each one)");
  } finally {
    silent.close();
  }
  const closing = await guestPort();
  try {
    const opening = openSshChannel(closing.path, 5000);
    (await closing.peer).end('stale');
    const error = await opening.then(
      () => undefined,
      (e: Error) => e,
    );
    assert.is(error?.message, 'the guest closed its SSH channel before it began a session');
  } finally {
    closing.close();
  }
});

test.run();
