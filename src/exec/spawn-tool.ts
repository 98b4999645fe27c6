import { execa, type ResultPromise } from 'execa';

/** A long-running tool whose output is read as it comes (e.g. `virsh event --loop`). */
export type RunningTool = ResultPromise<{ reject: false; buffer: false; stdin: 'ignore'; encoding: 'utf8' }>;

/**
 * Starts a long-running tool; the caller reads stdout line by line and kills it when done.
 * Like runTool, this is the one way vmbatch starts such processes.
 */
export function spawnTool(argv: string[]): RunningTool {
  const [file, ...args] = argv;
  if (!file) throw new Error('spawnTool needs a command');
  return execa(file, args, { reject: false, buffer: false, stdin: 'ignore', encoding: 'utf8' });
}
