import { accessSync, constants, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { catalogueEntryPaths, readCached } from '../catalogue/catalogue-source.js';
import { cacheDirOf } from '../images/cache-entry.js';
import { displayUrl } from '../images/image-source.js';
import { fail, ok, warn, type CheckOutcome, type CheckResult, type ConfiguredContext } from './check-result.js';

/** Each catalogue source answers: a path is readable, an http(s) URL answers within the timeout with a status below 400. */
export async function checkCatalogueSources(ctx: ConfiguredContext): Promise<CheckOutcome> {
  const { sources } = ctx.config.catalogue;
  if (sources.length === 0) return ok('catalogue', 'no sources configured (catalogue.sources): jobs cannot ask for runtime environments');
  return Promise.all(sources.map(async (source) => (source.startsWith('/') ? checkFile(source) : checkUrl(ctx, source))));
}

function checkFile(path: string): CheckResult {
  const check = `catalogue ${path}`;
  try {
    accessSync(path, constants.R_OK);
    return ok(check, 'readable');
  } catch (error) {
    return fail(check, `cannot be read: ${(error as NodeJS.ErrnoException).code}`, 'put the catalogue there or fix catalogue.sources');
  }
}

async function checkUrl(ctx: ConfiguredContext, url: string): Promise<CheckResult> {
  const check = `catalogue ${displayUrl(url)}`;
  const answer = await ask(url, ctx.timeoutMs, ctx.config.images.caFile);
  if (typeof answer === 'number' && answer < 400) return ok(check, `answers ${answer}`);
  const problem = typeof answer === 'number' ? `answers ${answer}` : `does not answer (${answer})`;
  // a prologue falls back to the cached copy (catalogue-source.ts): jobs still run, with old data
  const cached = readCached(catalogueEntryPaths(cacheDirOf(ctx.config), url));
  if (cached) {
    return warn(check, `${problem}: jobs use the cached copy of ${cached.meta.fetchedAt}`, 'check the server and the URL (`curl -I URL`); the cached copy stays in use until it answers');
  }
  return fail(check, `${problem} and no copy is cached: jobs asking for runtime environments fail`, 'check the server and the URL (`curl -I URL` from this node), or remove it from catalogue.sources');
}

// The status the server answered with, or why it did not (a refused connection, a timeout).
function ask(url: string, timeoutMs: number, caFile: string | undefined): Promise<number | string> {
  return new Promise((resolve) => {
    const https = url.startsWith('https:');
    const options = { method: 'GET', signal: AbortSignal.timeout(timeoutMs), ...(https && caFile ? { ca: readFileSync(caFile) } : {}) };
    const req = (https ? httpsRequest : httpRequest)(url, options, (res) => {
      // the status is the answer; the body is not wanted
      res.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', (error: NodeJS.ErrnoException) => resolve(error.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : (error.code ?? error.message)));
    req.end();
  });
}
