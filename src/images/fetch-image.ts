import { X509Certificate } from 'node:crypto';
import { createReadStream, createWriteStream, statSync, statfsSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { noSpaceReason } from '../errors/disk-full.js';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { createDigest, type HashSpec } from './hash-spec.js';
import { displayUrl, type ImageSource } from './image-source.js';
import { checkUserImageUrl } from './user-image-policy.js';

/** How a download is bounded and observed. */
export interface FetchOptions {
  source: ImageSource;
  /** file to create (must not exist); removed again when the fetch fails */
  file: string;
  stallTimeoutMs: number;
  maxRedirects: number;
  /** epoch ms by which the whole download must be done (the prologue's budget) */
  deadline?: number;
  /** called as bytes arrive, with the total when the server told it */
  onProgress?: (got: number, total: number | undefined) => void;
  /** a PEM file of extra CAs trusted for https (images.caFile), besides the public ones */
  caFile?: string;
  /** the file's mode (default 0644); a private image is private from its first byte */
  mode?: number;
  /** the validators of a copy already held: the GET is conditional and a 304 ends it (NotModified) */
  validators?: Validators;
}

/** What identifies a version of a file to its server (RFC 9110): the ETag and Last-Modified it sent. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

/** The answer to a conditional fetch when the copy held is current: nothing was written. */
export interface NotModified {
  notModified: true;
  finalUrl: string;
  ms: number;
}

/** What a finished download gave: size, digest (computed as the bytes streamed in), final URL. */
export interface FetchResult {
  bytes: number;
  digest: HashSpec;
  finalUrl: string;
  ms: number;
  /** what the server sent to identify this version, for a later conditional fetch */
  validators: Validators;
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
// large writes: a 1 GiB image in 16 KiB pieces costs more system calls than hashing it
const chunkBytes = 4 * 1024 * 1024;

/**
 * Streams an image into `file` in one pass: the digest (the one the source expects, else
 * sha256) is computed from the same bytes as they are written, and checked before returning.
 * Redirects, stalls, short bodies, size limits, a full disk and a wrong digest each raise
 * their catalogue error; `file` is then removed, so nothing partial is ever left for use.
 */
export async function fetchImage(options: FetchOptions & { validators: Validators }): Promise<FetchResult | NotModified>;
export async function fetchImage(options: FetchOptions): Promise<FetchResult>;
export async function fetchImage(options: FetchOptions): Promise<FetchResult | NotModified> {
  const started = performance.now();
  const { source, file } = options;
  const algorithm = source.hash?.algorithm ?? 'sha256';
  let body: Body | undefined;
  const fate: ConnectionFate = { stalled: false, reset: false };
  const mode = options.mode ?? 0o644;
  const handle = await open(file, 'wx', mode);
  try {
    // the mode asked for, whatever the umask (pbs_mom runs hooks with 0077)
    await handle.chmod(mode);
    const opened = await openBody(options, fate);
    if ('notModified' in opened) {
      await rm(file, { force: true });
      return { notModified: true, finalUrl: opened.finalUrl, ms: performance.now() - started };
    }
    body = opened;
    if (body.total !== undefined) checkSpace(source, file, body.total);
    const digest = createDigest(algorithm);
    let got = 0;
    const counter = new Transform({
      highWaterMark: chunkBytes,
      transform(chunk: Buffer, _enc, done) {
        got += chunk.length;
        if (source.maxBytes !== undefined && got > source.maxBytes) {
          done(new VmbatchError('IMAGE_TOO_LARGE', { url: source.url, limit: source.maxBytes / 1048576, size: `more than ${source.maxBytes} bytes arrived` }));
          return;
        }
        digest.update(chunk);
        options.onProgress?.(got, body?.total);
        done(null, chunk);
      },
    });
    const stream = body.stream;
    // a download that still streams but cannot finish in time fails at the deadline, not after
    const timer = options.deadline === undefined ? undefined : setTimeout(() => stream.destroy(new DeadlineError()), Math.max(0, options.deadline - Date.now()));
    try {
      await pipeline(stream, counter, createWriteStream('', { fd: handle.fd, autoClose: false, highWaterMark: chunkBytes }));
    } catch (error) {
      if (error instanceof DeadlineError) throw new VmbatchError('DOWNLOAD_DEADLINE', { url: source.url, got, seconds: Math.round((performance.now() - started) / 1000) });
      throw mapStreamError(error, { url: source.url, file, got, total: body.total, stallMs: options.stallTimeoutMs, fate });
    } finally {
      clearTimeout(timer);
    }
    if (body.total !== undefined && got !== body.total) {
      throw new VmbatchError('DOWNLOAD_INCOMPLETE', { url: source.url, got, expected: body.total, reason: 'the server closed the connection' });
    }
    // the data must be on disk before anything names it as a verified image
    await handle.sync();
    const actual = digest.digest('hex');
    if (source.hash && actual !== source.hash.value) {
      throw new VmbatchError('IMAGE_HASH_MISMATCH', { url: source.url, algorithm, expected: source.hash.value, actual });
    }
    return { bytes: got, digest: { algorithm, value: actual }, finalUrl: body.finalUrl, ms: performance.now() - started, validators: body.validators };
  } catch (error) {
    body?.stream.destroy();
    // nothing partial may stay where it could be taken for an image
    await rm(file, { force: true });
    throw withUrlsShown(error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

// Fails before the first byte when the announced size cannot fit or is over the limit.
function checkSpace(source: ImageSource, file: string, total: number): void {
  if (source.maxBytes !== undefined && total > source.maxBytes) {
    throw new VmbatchError('IMAGE_TOO_LARGE', { url: source.url, limit: source.maxBytes / 1048576, size: total });
  }
  const fs = statfsSync(dirname(file));
  const free = fs.bavail * fs.bsize;
  if (total > free) throw new VmbatchError('DISK_FULL', { path: file, reason: `the image has ${total} bytes, the filesystem has ${free} free` });
}

// A response body to stream, with what the server said about it.
interface Body {
  stream: Readable;
  total: number | undefined;
  finalUrl: string;
  validators: Validators;
}

async function openBody(options: FetchOptions, fate: ConnectionFate): Promise<Body | Omit<NotModified, 'ms'>> {
  const { source } = options;
  if (source.url.startsWith('file:')) {
    const path = fileURLToPath(source.url);
    let size: number;
    try {
      size = statSync(path).size;
    } catch (error) {
      throw new VmbatchError('DOWNLOAD_FAILED', { url: source.url, reason: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message });
    }
    return { stream: createReadStream(path, { highWaterMark: chunkBytes }), total: size, finalUrl: source.url, validators: {} };
  }
  const chain = [source.url];
  let url = source.url;
  const conditional = conditionalHeaders(options.validators);
  // the CA file is read once per fetch, and only when an https hop needs it
  let ca: string[] | undefined;
  for (;;) {
    if (url.startsWith('https:') && options.caFile !== undefined && ca === undefined) ca = await trustedCas(source.url, options.caFile);
    const response = await request(url, options.stallTimeoutMs, fate, ca, conditional);
    const status = response.statusCode ?? 0;
    // only a conditional request may be answered 304; to any other it is an error like 404
    if (status === 304 && Object.keys(conditional).length > 0) {
      response.resume();
      return { notModified: true, finalUrl: url };
    }
    if (redirectStatuses.has(status) && response.headers.location) {
      response.resume();
      const next = new URL(response.headers.location, url).href;
      if (chain.includes(next)) throw new VmbatchError('DOWNLOAD_REDIRECT_LOOP', { url: source.url, chain: [...chain, next], reason: 'the redirects form a loop' });
      chain.push(next);
      if (chain.length - 1 > options.maxRedirects) {
        throw new VmbatchError('DOWNLOAD_REDIRECT_LOOP', { url: source.url, chain, reason: `more than ${options.maxRedirects} redirects` });
      }
      checkRedirect(source, next);
      url = next;
      continue;
    }
    if (status < 200 || status > 299) {
      response.resume();
      const code = status >= 500 || status === 429 ? 'DOWNLOAD_SERVER_ERROR' : 'DOWNLOAD_HTTP_STATUS';
      throw new VmbatchError(code, { url, status, statusText: response.statusMessage ?? '' });
    }
    const length = response.headers['content-length'];
    const { etag, 'last-modified': lastModified } = response.headers;
    return { stream: response, total: length === undefined ? undefined : Number(length), finalUrl: url, validators: { etag, lastModified } };
  }
}

// If-None-Match and If-Modified-Since from the validators of the copy held (a server that
// knows ETags decides by If-None-Match and ignores the date).
function conditionalHeaders(validators: Validators | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (validators?.etag) headers['if-none-match'] = validators.etag;
  if (validators?.lastModified) headers['if-modified-since'] = validators.lastModified;
  return headers;
}

// A redirect may only lead to http(s); a submitter's image must stay under the policy's prefixes.
function checkRedirect(source: ImageSource, next: string): void {
  if (!/^https?:/.test(next)) {
    throw new VmbatchError('DOWNLOAD_FAILED', { url: source.url, reason: `the server redirected to ${displayUrl(next)}, which is not an http(s) URL` });
  }
  if (source.allowedPrefixes) {
    const verdict = checkUserImageUrl(next, source.allowedPrefixes);
    if (verdict instanceof VmbatchError) {
      throw new VmbatchError('USER_IMAGE_REFUSED', { image: source.url, reason: `the server redirected to ${displayUrl(next)}, which the site does not allow` });
    }
  }
}

/** How a connection ended, as far as the body's 'aborted' error cannot tell. */
interface ConnectionFate {
  stalled: boolean;
  reset: boolean;
}

// The CAs an https download trusts with images.caFile: the public ones (so public servers keep
// working) and the file's. A file that is missing or holds no readable PEM certificate fails the
// download with a reason naming the file, rather than as an obscure TLS error later.
async function trustedCas(url: string, caFile: string): Promise<string[]> {
  let pem: string;
  try {
    pem = await readFile(caFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new VmbatchError('DOWNLOAD_FAILED', { url, reason: `cannot read images.caFile ${caFile}: ${why}` });
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new VmbatchError('DOWNLOAD_FAILED', { url, reason: `images.caFile ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new VmbatchError('DOWNLOAD_FAILED', { url, reason: `images.caFile ${caFile}: certificate ${i + 1} cannot be read (${(error as Error).message})` });
    }
  }
  return [...tls.rootCertificates, ...blocks];
}

// One GET; the socket's idle timeout covers connecting, waiting for headers and a stalled body.
function request(url: string, stallTimeoutMs: number, fate: ConnectionFate, ca: string[] | undefined, extraHeaders: Record<string, string>): Promise<http.IncomingMessage> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const headers = { 'user-agent': 'vmbatch', 'accept-encoding': 'identity', ...extraHeaders };
    const req = client.get(url, ca && url.startsWith('https:') ? { headers, ca } : { headers }, resolve);
    req.setTimeout(stallTimeoutMs, () => {
      fate.stalled = true;
      req.destroy(new StallError());
    });
    // the body only says 'aborted'; the socket knows whether the peer reset the connection
    req.on('socket', (socket) => {
      const onError = (error: NodeJS.ErrnoException) => (fate.reset ||= error.code === 'ECONNRESET');
      socket.on('error', onError);
      // a kept-alive socket serves later requests: each must take its listener away again
      req.once('close', () => socket.off('error', onError));
    });
    req.on('error', (error) => reject(error instanceof StallError ? stalled(url, stallTimeoutMs, 0) : connectError(url, error)));
  });
}

class DeadlineError extends Error {
  constructor() {
    super('deadline');
  }
}

class StallError extends Error {
  constructor() {
    super('stalled');
  }
}

function stalled(url: string, ms: number, got: number): VmbatchError {
  return new VmbatchError('DOWNLOAD_STALLED', { url, seconds: ms / 1000, got });
}

function connectError(url: string, error: Error): VmbatchError {
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'the connection was refused',
    ENOTFOUND: 'the host name is not known',
    EHOSTUNREACH: 'the host is unreachable',
    ECONNRESET: 'the connection was reset',
  };
  if (code && reasons[code]) return new VmbatchError('DOWNLOAD_FAILED', { url, reason: reasons[code] });
  if (code && certificateCodes.has(code)) {
    return new VmbatchError('DOWNLOAD_FAILED', { url, reason: `the server's certificate is not trusted: ${error.message} (${code}); a site CA must be listed in images.caFile` });
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return new VmbatchError('DOWNLOAD_FAILED', { url, reason: `the server's certificate is not valid now: ${error.message}` });
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return new VmbatchError('DOWNLOAD_FAILED', { url, reason: `the server's certificate is not for this host: ${error.message}` });
  return new VmbatchError('DOWNLOAD_FAILED', { url, reason: error.message });
}

// OpenSSL's verification failures that a missing or wrong CA causes
const certificateCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

function mapStreamError(error: unknown, at: { url: string; file: string; got: number; total: number | undefined; stallMs: number; fate: ConnectionFate }): unknown {
  const { url, got, total } = at;
  if (isVmbatchError(error)) return error;
  if (error instanceof StallError || at.fate.stalled) return stalled(url, at.stallMs, got);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT') {
    const why = noSpaceReason(code) ?? 'the file size limit is reached';
    return new VmbatchError('DISK_FULL', { path: at.file, reason: `${why} (${code}) after ${got} bytes` });
  }
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error).message === 'aborted') {
    const reason = at.fate.reset ? 'the connection was reset' : 'the connection closed early';
    return new VmbatchError('DOWNLOAD_INCOMPLETE', { url, got, expected: total, reason });
  }
  return new VmbatchError('DOWNLOAD_FAILED', { url, reason: (error as Error).message });
}

// Errors name URLs as they may be shown (logs, notices, other users' listings): without
// credentials and with the query, which often carries an access token, replaced by `?…`.
function withUrlsShown(error: unknown): unknown {
  if (!isVmbatchError(error)) return error;
  const params = { ...error.params } as Record<string, unknown>;
  for (const key of ['url', 'image']) if (typeof params[key] === 'string') params[key] = displayUrl(params[key]);
  if (Array.isArray(params.chain)) params.chain = (params.chain as string[]).map(displayUrl);
  if (JSON.stringify(params) === JSON.stringify(error.params)) return error;
  return new VmbatchError(error.code, params as never);
}
