import { createServer } from 'node:net';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { releaseAll, reserveOne } from '../state/reservations.js';

/**
 * Reserves a loopback port for a job's SSH forward (a reservation in STATEDIR/ports); the
 * port must also be free to bind. The search starts at a random place in the range, so
 * concurrent prologues rarely contend for the same file.
 */
export async function reservePort(stateDir: string, jobId: string, range: { first: number; last: number }): Promise<number> {
  const size = range.last - range.first + 1;
  const offset = Math.floor(Math.random() * size);
  const candidates = Array.from({ length: size }, (_, i) => String(range.first + ((offset + i) % size)));
  const port = await reserveOne(stateDir, 'ports', jobId, candidates, (p) => canBind(Number(p)));
  if (port === undefined) throw new VmbatchError('PORTS_EXHAUSTED', range);
  return Number(port);
}

/** Releases every port reserved by a job (idempotent). */
export function releasePorts(stateDir: string, jobId: string): void {
  releaseAll(stateDir, 'ports', jobId);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
