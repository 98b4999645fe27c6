import { diskFullOfToolError } from '../errors/disk-full.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { loadExeca } from './load-execa.js';

/** The Debian package that provides each external tool vmbatch runs. */
export const toolPackages: Record<string, string> = {
  virsh: 'libvirt-clients',
  'qemu-img': 'qemu-utils',
  genisoimage: 'genisoimage',
  isoinfo: 'genisoimage',
  getent: 'libc-bin',
  flock: 'util-linux',
  tar: 'tar',
  debugfs: 'e2fsprogs',
  'qemu-io': 'qemu-utils',
  'vhd-util': 'blktap-utils (not in Debian 12; Xen ships vhd-util)',
  'ssh-keygen': 'openssh-client',
  virtiofsd: 'qemu-system-common',
};

/** Options for one tool run. */
export interface RunToolOptions {
  input?: string | Buffer;
  uid?: number;
  gid?: number;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** exit codes that are answers rather than failures (e.g. getent's 2 = not found) */
  okExitCodes?: number[];
  /** an open file descriptor handed to the tool as its fd 3 (e.g. a file to `flock`) */
  fd3?: number;
}

/** What a tool printed and how it ended. */
export interface ToolResult {
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs one external tool: the single executor every subprocess goes through. A tool that is
 * absent raises TOOL_MISSING; a failed run raises TOOL_FAILED with argv, exit code and stderr,
 * or DISK_FULL when its stderr says the disk is full or the quota used up.
 */
export async function runTool(argv: string[], options: RunToolOptions = {}): Promise<ToolResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runTool needs a command');
  const { execa } = await loadExeca();
  const started = performance.now();
  const result = await execa(file, args, {
    reject: false,
    input: options.input,
    uid: options.uid,
    gid: options.gid,
    cwd: options.cwd,
    env: options.env ?? { PATH: toolSearchPath(process.env.PATH) },
    extendEnv: options.env === undefined,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    stripFinalNewline: false,
    encoding: 'utf8',
    // execa passes a number in stdio through as that descriptor; its types only list 3-9
    ...(options.fd3 === undefined ? {} : { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', options.fd3 as 3] as const }),
  });
  const ms = performance.now() - started;
  const errno = (result.cause as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'ENOENT' && result.exitCode === undefined) {
    throw new VmbatchError('TOOL_MISSING', { tool: file, pkg: toolPackages[file] ?? file });
  }
  const exitCode = result.exitCode ?? -1;
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.failed && !(result.exitCode !== undefined && options.okExitCodes?.includes(result.exitCode))) {
    const how = result.timedOut ? `a timeout after ${options.timeoutMs} ms` : result.isCanceled ? 'cancellation' : result.signal ? `signal ${result.signal}` : exitCode;
    // a full disk is the node's state, not the tool's fault: transient, so the job is requeued
    throw diskFullOfToolError(argv, stderr) ?? new VmbatchError('TOOL_FAILED', { argv, exitCode: how, stderr: stderr || (result.cause instanceof Error ? String(result.cause) : '') });
  }
  return { argv, exitCode, stdout, stderr, ms };
}

/** The PATH tools are looked up in: the caller's, with sbin added (pbs_mom runs hooks with PATH=/bin:/usr/bin, but admin tools such as debugfs live in sbin). */
export function toolSearchPath(path: string | undefined): string {
  const parts = (path ?? '/usr/bin:/bin').split(':');
  for (const dir of ['/usr/sbin', '/sbin']) if (!parts.includes(dir)) parts.push(dir);
  return parts.join(':');
}
