// The catalogue lines: sources on 127.0.0.1 that answer, answer 404 or refuse (with and without
// a cached copy), and local files readable or not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { catalogueEntryPaths } from '../../src/catalogue/catalogue-source.js';
import { checkCatalogueSources } from '../../src/doctor/check-catalogue-sources.js';
import { doctorScratch, removeDoctorScratches } from '../helpers/doctor-scratch.js';
import { startImageServer } from '../helpers/image-server.js';

// a loopback port nobody listens on: one the kernel just gave out and that was closed again
async function refusingUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}/catalogue.rdf`;
}

test.after.each(removeDoctorScratches);

test('no sources: one ok line saying so', async () => {
  const s = doctorScratch();
  assert.equal(await checkCatalogueSources(s.ctx), { check: 'catalogue', status: 'ok', message: 'no sources configured (catalogue.sources): jobs cannot ask for runtime environments' });
});

test('a URL that answers is ok, one that answers 404 or refuses fails; a readable file is ok, a missing one fails', async () => {
  const server = await startImageServer();
  server.route('/catalogue.rdf', { kind: 'data', data: Buffer.from('<rdf/>') });
  server.route('/gone.rdf', { kind: 'status', status: 404 });
  const refusing = await refusingUrl();
  const s = doctorScratch();
  try {
    const file = join(s.root, 'local.rdf');
    writeFileSync(file, '<rdf/>');
    s.ctx.config.catalogue.sources = [server.url('/catalogue.rdf'), server.url('/gone.rdf'), refusing, file, '/nonexistent/catalogue.rdf'];
    const hint = 'check the server and the URL (`curl -I URL` from this node), or remove it from catalogue.sources';
    assert.equal(await checkCatalogueSources(s.ctx), [
      { check: `catalogue ${server.url('/catalogue.rdf')}`, status: 'ok', message: 'answers 200' },
      { check: `catalogue ${server.url('/gone.rdf')}`, status: 'fail', message: 'answers 404 and no copy is cached: jobs asking for runtime environments fail', hint },
      { check: `catalogue ${refusing}`, status: 'fail', message: 'does not answer (ECONNREFUSED) and no copy is cached: jobs asking for runtime environments fail', hint },
      { check: `catalogue ${file}`, status: 'ok', message: 'readable' },
      { check: 'catalogue /nonexistent/catalogue.rdf', status: 'fail', message: 'cannot be read: ENOENT', hint: 'put the catalogue there or fix catalogue.sources' },
    ]);
  } finally {
    await server.close();
  }
});

test('a URL that refuses but whose copy is cached: a warn, jobs use the cached copy', async () => {
  const refusing = await refusingUrl();
  const s = doctorScratch({ catalogue: { sources: [refusing] } });
  const entry = catalogueEntryPaths(join(s.stateDir, 'cache'), refusing);
  mkdirSync(entry.dir, { recursive: true });
  writeFileSync(entry.data, '<rdf/>');
  writeFileSync(entry.meta, JSON.stringify({ version: 1, url: refusing, finalUrl: refusing, bytes: 6, fetchedAt: '2026-01-02T03:04:05.000Z' }));
  assert.equal(await checkCatalogueSources(s.ctx), [
    {
      check: `catalogue ${refusing}`,
      status: 'warn',
      message: 'does not answer (ECONNREFUSED): jobs use the cached copy of 2026-01-02T03:04:05.000Z',
      hint: 'check the server and the URL (`curl -I URL`); the cached copy stays in use until it answers',
    },
  ]);
});

test('a server that does not answer within the timeout fails without waiting longer', async () => {
  // accepts the connection and never answers
  const silent = createServer(() => undefined);
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/catalogue.rdf`;
  const s = doctorScratch({ catalogue: { sources: [url] } }, { timeoutMs: 200 });
  try {
    assert.equal(await checkCatalogueSources(s.ctx), [
      {
        check: `catalogue ${url}`,
        status: 'fail',
        message: 'does not answer (no answer within 200 ms) and no copy is cached: jobs asking for runtime environments fail',
        hint: 'check the server and the URL (`curl -I URL` from this node), or remove it from catalogue.sources',
      },
    ]);
  } finally {
    silent.close();
  }
});

test.run();
