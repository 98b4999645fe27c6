import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { zodProblems } from '../../src/config/zod-problems.js';
import { poolAddresses, releaseAddress, reserveAddress } from '../../src/network/address-pool.js';
import { expectVmbatchError } from '../helpers/expect-error.js';

test('a pool is a list, or successive addresses from a base (across octets)', () => {
  const network = configSchema.parse({ network: { mode: 'static', base: '10.1.0.254', count: 4 } }).network;
  assert.equal(poolAddresses(network), ['10.1.0.254', '10.1.0.255', '10.1.1.0', '10.1.1.1']);
  assert.equal(poolAddresses(configSchema.parse({ network: { mode: 'static', addresses: ['192.168.5.9'] } }).network), ['192.168.5.9']);
});

test('static settings are validated with every problem', () => {
  const parsed = configSchema.safeParse({ network: { mode: 'static', base: '10.0.2.300', gateway: 'router' } });
  assert.is(parsed.success, false);
  if (!parsed.success) {
    assert.equal(zodProblems(parsed.error), [
      'network.base: must be an IPv4 address like 10.0.2.20',
      'network.gateway: must be an IPv4 address like 10.0.2.20',
      'network: base: and count: go together',
    ]);
  }
  const neither = configSchema.safeParse({ network: { mode: 'static' } });
  assert.equal(!neither.success && zodProblems(neither.error), ['network: static mode needs either addresses: [...] or base: and count:']);
  const odd = configSchema.safeParse({ network: { mode: 'static', addresses: ['10.0.0.1', '10.0.0.1'] } });
  assert.equal(!odd.success && zodProblems(odd.error), ['network.addresses: lists 10.0.0.1 twice']);
  const wrap = configSchema.safeParse({ network: { mode: 'static', base: '255.255.255.250', count: 10 } });
  assert.equal(!wrap.success && zodProblems(wrap.error), ['network.count: 10 addresses from 255.255.255.250 go past 255.255.255.255']);
});

test("24 concurrent jobs never share an address; a full pool is transient; release frees the job's", async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'vmbatch-net-'));
  try {
    const config = configSchema.parse({ stateDir, network: { mode: 'static', base: '10.0.2.20', count: 24, gateway: '10.0.2.2' } });
    const jobs = Array.from({ length: 24 }, (_, i) => `${i}.vm`);
    for (const j of [...jobs, 'late.vm']) mkdirSync(join(stateDir, 'jobs', j), { recursive: true });
    const got = await Promise.all(jobs.map((j) => reserveAddress(config, j)));
    assert.is(new Set(got.map((a) => a?.address)).size, 24);
    const full = await expectVmbatchError(() => reserveAddress(config, 'late.vm'), 'ADDRESSES_EXHAUSTED');
    assert.is(full.message, "no free static address for the guest: every address of this node's pool (10.0.2.20 ... 10.0.2.43, 24 addresses) is taken by a running job");
    assert.is(full.kind, 'transient');
    releaseAddress(stateDir, '5.vm');
    assert.equal(await reserveAddress(config, 'late.vm'), { address: got[5]!.address, prefixLength: 24, gateway: '10.0.2.2', dns: [] });
    assert.is(readdirSync(join(stateDir, 'addresses')).length, 24);
    assert.is(await reserveAddress(configSchema.parse({ stateDir }), 'x.vm'), undefined, 'DHCP needs no address');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test.run();
