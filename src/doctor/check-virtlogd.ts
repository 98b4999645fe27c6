import { createConnection } from 'node:net';
import { fail, ok, type CheckResult, type DoctorContext } from './check-result.js';

/** virtlogd accepts a connection on its socket: without it libvirt's qemu driver starts no guest. */
export async function checkVirtlogd(ctx: DoctorContext): Promise<CheckResult> {
  const socket = ctx.virtlogdSocket;
  const problem = await connectProblem(socket, ctx.timeoutMs);
  if (problem === undefined) return ok('virtlogd', `${socket} accepts connections`);
  return fail(
    'virtlogd',
    `${socket} does not accept a connection (${problem}): libvirt starts no guest without virtlogd`,
    'start virtlogd (systemctl start virtlogd.socket; scripts/start-libvirt.sh where no service manager runs)',
  );
}

// The reason a connection to the unix socket failed, or undefined once it connected.
function connectProblem(path: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const conn = createConnection({ path, timeout: timeoutMs });
    conn.once('connect', () => {
      conn.destroy();
      resolve(undefined);
    });
    conn.once('timeout', () => {
      conn.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    });
    conn.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
