// The virtlogd line: a socket that accepts a connection, one that is missing, one nobody listens on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { checkVirtlogd } from '../../src/doctor/check-virtlogd.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';

const hint = 'start virtlogd (systemctl start virtlogd.socket; scripts/start-libvirt.sh where no service manager runs)';

test.after.each(removeDoctorScratches);

test('a socket that accepts connections: ok', async () => {
  const s = doctorScratch();
  const server = createServer((conn) => conn.destroy());
  try {
    const socket = join(s.root, 'virtlogd-sock');
    server.listen(socket);
    await once(server, 'listening');
    s.ctx.virtlogdSocket = socket;
    assert.equal(await checkVirtlogd(s.ctx), { check: 'virtlogd', status: 'ok', message: `${socket} accepts connections` });
  } finally {
    server.close();
  }
});

test('no socket: fail, with the hint', async () => {
  const s = doctorScratch({}, { virtlogdSocket: '/nonexistent/virtlogd-sock' });
  assert.equal(await checkVirtlogd(s.ctx), {
    check: 'virtlogd',
    status: 'fail',
    message: '/nonexistent/virtlogd-sock does not accept a connection (ENOENT): libvirt starts no guest without virtlogd',
    hint,
  });
});

test('a path that is no listening socket (a stale file where virtlogd was): fail', async () => {
  const s = doctorScratch();
  const stale = join(s.root, 'virtlogd-sock');
  writeFileSync(stale, '');
  s.ctx.virtlogdSocket = stale;
  assert.equal(await checkVirtlogd(s.ctx), {
    check: 'virtlogd',
    status: 'fail',
    message: `${stale} does not accept a connection (ECONNREFUSED): libvirt starts no guest without virtlogd`,
    hint,
  });
});

test.run();
