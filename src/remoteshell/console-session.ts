import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { shellQuote } from '../shell/quote.js';

const RS = '\x1e';

/**
 * Runs a command in the shell the guest keeps logged in on its second serial port (console
 * remoteshell) and resolves with its exit status. The line carries no job data of its own, so
 * the job's output is framed by markers with a per-run token: the guest's shell asks for the
 * token only after it has read the command, keeps it in an unexported variable and prints it
 * with the exit status after the job, whose stdin is /dev/null: a job cannot learn the token,
 * so it cannot forge its end or its exit status. The console is one stream: the job's stderr
 * comes merged into stdout.
 */
export function runOverConsole(socketPath: string, command: string, stdout: NodeJS.WritableStream): Promise<number> {
  const token = randomBytes(16).toString('hex');
  const askToken = `${RS}vmbatch-token${RS}`;
  const start = `${RS}${token} START${RS}`;
  const end = new RegExp(`${RS}${token} EXIT (\\d+)${RS}`);
  const line =
    `printf '\\036vmbatch-token\\036'; IFS= read -r vbtok; printf '\\036%s START\\036' "$vbtok"; ` + `sh -c ${shellQuote(command)} </dev/null 2>&1; printf '\\036%s EXIT %s\\036' "$vbtok" "$?"\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let phase: 'token' | 'start' | 'job' = 'token';
    let pending = '';
    const fail = (reason: string) => {
      socket.destroy();
      reject(new VmbatchError('CONSOLE_FAILED', { socket: socketPath, reason }));
    };
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(line));
    socket.on('data', (chunk: string) => {
      pending += chunk;
      if (phase === 'token') {
        const at = pending.indexOf(askToken);
        if (at === -1) return;
        pending = pending.slice(at + askToken.length);
        phase = 'start';
        socket.write(`${token}\n`);
      }
      if (phase === 'start') {
        const at = pending.indexOf(start);
        if (at === -1) return;
        pending = pending.slice(at + start.length);
        phase = 'job';
      }
      const m = end.exec(pending);
      if (m) {
        stdout.write(Buffer.from(pending.slice(0, m.index), 'latin1'));
        socket.end();
        resolve(Number(m[1]));
        return;
      }
      // keep back what could be the beginning of the end marker
      const keep = Math.min(pending.length, token.length + 16);
      stdout.write(Buffer.from(pending.slice(0, pending.length - keep), 'latin1'));
      pending = pending.slice(pending.length - keep);
    });
    socket.on('error', (error) => fail(error.message));
    socket.on('close', () => fail('the console closed before the job ended'));
  });
}
