import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { EventEmitter } from 'node:events';

/** What the test server does for one path. */
export type Route =
  /** with `etag` or `lastModified` the server sends them and answers conditional GETs with 304 as RFC 9110 says */
  | { kind: 'data'; data: Buffer; etag?: string; lastModified?: string }
  /** `data` without Content-Length (chunked): the client learns the size only at the end */
  | { kind: 'chunked'; data: Buffer }
  | { kind: 'file'; path: string }
  | { kind: 'status'; status: number }
  | { kind: 'redirect'; to: string }
  /** announces `data`, sends `after` bytes, then resets (RST) or closes (FIN) or goes silent */
  | { kind: 'broken'; data: Buffer; after: number; how: 'reset' | 'close' | 'stall' }
  /** sends `data` in `chunk`-byte pieces every `everyMs` (a slow link) */
  | { kind: 'slow'; data: Buffer; chunk: number; everyMs: number };

/** A real HTTP server on 127.0.0.1 that serves images and faults, and counts requests per path. */
export interface ImageServer {
  url(path: string): string;
  route(path: string, route: Route): void;
  requests(path: string): number;
  /** the headers of the last request for the path */
  lastHeaders(path: string): http.IncomingHttpHeaders | undefined;
  /** how many requests for the path were answered 304 */
  notModified(path: string): number;
  /** emits 'sent' (path, bytes) as the body goes out */
  events: EventEmitter;
  close(): Promise<void>;
}

/** Starts the server on an ephemeral loopback port; with `tls` (PEM key and certificate) it speaks https. */
export async function startImageServer(options: { tls?: { key: string; cert: string } } = {}): Promise<ImageServer> {
  const routes = new Map<string, Route>();
  const counts = new Map<string, number>();
  const headers = new Map<string, http.IncomingHttpHeaders>();
  const notModified = new Map<string, number>();
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = req.url ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    headers.set(path, req.headers);
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404, 'Not Found').end();
      return;
    }
    if (route.kind === 'data' && isNotModified(route, req.headers)) {
      notModified.set(path, (notModified.get(path) ?? 0) + 1);
      res.writeHead(304, validatorHeaders(route)).end();
      return;
    }
    serve(route, path, res, events);
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}${path}`,
    route: (path, route) => void routes.set(path, route),
    requests: (path) => counts.get(path) ?? 0,
    lastHeaders: (path) => headers.get(path),
    notModified: (path) => notModified.get(path) ?? 0,
    events,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// RFC 9110 13.2.2: If-None-Match decides when present (weak comparison); If-Modified-Since only without it.
function isNotModified(route: { etag?: string; lastModified?: string }, req: http.IncomingHttpHeaders): boolean {
  const weak = (tag: string) => tag.trim().replace(/^W\//, '');
  const noneMatch = req['if-none-match'];
  if (noneMatch !== undefined) return route.etag !== undefined && (noneMatch.trim() === '*' || noneMatch.split(',').some((t) => weak(t) === weak(route.etag!)));
  const since = req['if-modified-since'];
  return since !== undefined && route.lastModified !== undefined && Date.parse(route.lastModified) <= Date.parse(since);
}

function validatorHeaders(route: { etag?: string; lastModified?: string }): Record<string, string> {
  return { ...(route.etag ? { etag: route.etag } : {}), ...(route.lastModified ? { 'last-modified': route.lastModified } : {}) };
}

function serve(route: Route, path: string, res: http.ServerResponse, events: EventEmitter): void {
  switch (route.kind) {
    case 'data':
      res.writeHead(200, { 'content-length': route.data.length, ...validatorHeaders(route) }).end(route.data);
      return;
    case 'chunked':
      res.writeHead(200).end(route.data);
      return;
    case 'file':
      res.writeHead(200, { 'content-length': statSync(route.path).size });
      createReadStream(route.path, { highWaterMark: 1 << 20 }).pipe(res);
      return;
    case 'status':
      res.writeHead(route.status).end();
      return;
    case 'redirect':
      res.writeHead(302, { location: route.to }).end();
      return;
    case 'broken': {
      res.writeHead(200, { 'content-length': route.data.length });
      res.write(route.data.subarray(0, route.after), () => {
        events.emit('sent', path, route.after);
        // an RST sent while the bytes are still in the send queue reaches the client as a FIN
        if (route.how === 'reset') setTimeout(() => res.socket?.resetAndDestroy(), 50);
        else if (route.how === 'close') res.socket?.end();
      });
      return;
    }
    case 'slow': {
      res.writeHead(200, { 'content-length': route.data.length });
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        const piece = route.data.subarray(sent, sent + route.chunk);
        sent += piece.length;
        res.write(piece);
        events.emit('sent', path, sent);
        if (sent >= route.data.length) {
          clearInterval(timer);
          res.end();
        }
      }, route.everyMs);
      res.on('close', () => clearInterval(timer));
    }
  }
}
