import { PassThrough, pipeline, type Readable, type Writable } from 'node:stream';
import type { ResultPromise } from 'execa';
import { loadExeca } from './load-execa.js';

/** A long-running tool whose output is read as it comes (e.g. `virsh event --loop`). */
export type RunningTool = ResultPromise<{ reject: false; buffer: false; stdin: 'ignore'; encoding: 'utf8' }>;

/**
 * Starts a long-running tool; the caller reads stdout line by line and kills it when done.
 * Like runTool, this is the one way vmbatch starts such processes. Resolves with it wrapped:
 * execa's child is itself a promise (of its end), which an async function would wait for.
 */
export async function spawnTool(argv: string[]): Promise<{ child: RunningTool }> {
  const [file, ...args] = argv;
  if (!file) throw new Error('spawnTool needs a command');
  const { execa } = await loadExeca();
  return { child: execa(file, args, { reject: false, buffer: false, stdin: 'ignore', encoding: 'utf8' }) };
}

/** How a streaming tool ended: its exit code (-1 when it was killed or never started) and the start of its stderr. */
export interface StreamingToolEnd {
  exitCode: number;
  stderr: string;
}

/** A tool fed or read by the caller through its stdin and stdout (e.g. tar packing into an SSH channel). */
export interface StreamingTool {
  stdin: Writable;
  stdout: Readable;
  ended: Promise<StreamingToolEnd>;
}

/**
 * Starts a tool whose stdin and stdout the caller streams, with messages in the C locale; keeps
 * the first `stderrBytes` of its stderr (a tool reading hostile input may print without end).
 * `umask`: the tool runs under this file mode mask (a shell sets it, then execs the tool).
 */
export async function spawnStreamingTool(argv: string[], options: { umask?: number; stderrBytes?: number } = {}): Promise<StreamingTool> {
  const wrapped = options.umask === undefined ? argv : ['/bin/sh', '-c', `umask ${options.umask.toString(8).padStart(4, '0')} && exec "$0" "$@"`, ...argv];
  const [file, ...args] = wrapped;
  if (!file) throw new Error('spawnStreamingTool needs a command');
  const { execa } = await loadExeca();
  const child = execa(file, args, { reject: false, buffer: false, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', env: { LC_ALL: 'C' } });
  const limit = options.stderrBytes ?? 16384;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < limit) stderr += chunk.toString('latin1').slice(0, limit - stderr.length);
  });
  // the caller may start reading later (once its channel is open), but execa and node discard an
  // output nobody reads by then (a small archive is written whole before): held here with back-pressure;
  // destroying it closes the tool's output too (a writer that nobody reads must not block)
  const stdout = new PassThrough();
  pipeline(child.stdout, stdout, () => undefined);
  // a reader that stops early (tar at the end of its archive) must not crash the writer
  child.stdin.on('error', () => undefined);
  const ended = child.then((r) => ({ exitCode: r.exitCode ?? -1, stderr: r.exitCode === undefined && !stderr ? String(r.shortMessage) : stderr }));
  return { stdin: child.stdin, stdout, ended };
}
