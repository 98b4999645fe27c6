import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releasePorts, reservePort } from '../../src/hypervisor/port-allocator.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

const base = 47100;

test('concurrent reservations never share a port, and release frees only the job\'s', async () => {
  const state = mkdtempSync(join(tmpdir(), 'vmbatch-ports-'));
  try {
    const jobs = Array.from({ length: 24 }, (_, i) => `${i}.vm`);
    for (const j of jobs) mkdirSync(join(state, 'jobs', j), { recursive: true });
    const ports = await Promise.all(jobs.map((j) => reservePort(state, j, { first: base, last: base + 29 })));
    assert.is(new Set(ports).size, jobs.length);
    releasePorts(state, '3.vm');
    assert.is(readdirSync(join(state, 'ports')).length, jobs.length - 1);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test('a port another program listens on is skipped; a full range is a transient error', async () => {
  const state = mkdtempSync(join(tmpdir(), 'vmbatch-ports-'));
  const server = createServer();
  await new Promise<void>((r) => server.listen(base + 40, '127.0.0.1', () => r()));
  try {
    mkdirSync(join(state, 'jobs', '1.vm'), { recursive: true });
    const e = await expectVmbatchError(() => reservePort(state, '1.vm', { first: base + 40, last: base + 40 }), 'PORTS_EXHAUSTED');
    assert.is(e.message, `no free SSH forward port on 127.0.0.1 in ${base + 40}-${base + 40}: every port is taken by a running job or another program`);
    assert.is(e.kind, 'transient');
    assert.equal(readdirSync(join(state, 'ports')), []);
  } finally {
    server.close();
    rmSync(state, { recursive: true, force: true });
  }
});

test('a reservation whose job is gone is taken over', async () => {
  const state = mkdtempSync(join(tmpdir(), 'vmbatch-ports-'));
  try {
    mkdirSync(join(state, 'ports'), { recursive: true });
    writeFileSync(join(state, 'ports', String(base + 50)), 'crashed.vm');
    mkdirSync(join(state, 'jobs', '2.vm'), { recursive: true });
    assert.is(await reservePort(state, '2.vm', { first: base + 50, last: base + 50 }), base + 50);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test.run();
