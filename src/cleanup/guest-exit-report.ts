import type { Config } from '../config/schema.js';
import { readFileTail } from '../fsutil/read-tail.js';
import { readDomainEnd, type DomainEnd } from '../hypervisor/libvirt-log.js';
import { printableTail, type TailLimits } from '../log/printable-tail.js';
import { jobPaths } from '../state/job-paths.js';
import { readJobStateIfValid } from '../state/job-state.js';

/** How much of a lost guest's console the report quotes. */
export const lostGuestConsoleTail: TailLimits = { lines: 15, chars: 2000 };

// What libvirt's reason word means to a submitter.
const reasonText: Record<string, string> = {
  destroyed: 'it was destroyed (virsh destroy, by an administrator or a tool)',
  crashed: "qemu ended unexpectedly (killed by a signal, e.g. by the node's out-of-memory killer)",
  shutdown: 'the guest shut down or rebooted (poweroff, halt or reboot inside the guest: vmbatch guests end on reboot)',
  failed: 'qemu failed',
};

/**
 * Why a job's guest was gone before its epilogue destroyed it (`domain`: what the destroy found):
 * undefined when the guest still ran (the job ended normally, was deleted or hit its walltime)
 * or never got ready. Otherwise the lines the epilogue writes to the job's error file (pbs_mom
 * appends the epilogue's stderr to it): libvirt's reason, qemu's last words and the guest's last
 * console lines, made printable. Read before the teardown removes the logs.
 */
export function guestExitReport(config: Config, jobId: string, domain: 'destroyed' | 'absent'): { lines: string[]; reason: string | undefined } | undefined {
  if (domain === 'destroyed') return undefined;
  const paths = jobPaths(config.stateDir, jobId);
  const state = readJobStateIfValid(paths.stateFile);
  if (state?.phase !== 'ready') return undefined;
  const end = readDomainEnd(config.libvirtLog.dir, state.domainName);
  // a guest taken from a pool writes its console in its own directory
  const console = consoleTail(state.poolGuest ? jobPaths(config.stateDir, state.poolGuest).consoleFile : paths.consoleFile);
  // a panicking kernel reboots (panic=-1) or halts: the console, not libvirt, knows it panicked
  const panic = console.panic ? `its kernel panicked (${console.panic}); libvirt: ${explain(end)}` : explain(end);
  const lines = [`vmbatch: the guest ${state.domainName} of job ${jobId} stopped before the job ended: ${panic}`];
  if (end?.reason || end?.qemuLines.length) {
    const words = [...(end.reason ? [`shutting down, reason=${end.reason}`] : []), ...end.qemuLines];
    lines.push(`vmbatch: libvirt's log: ${printableTail(words.join('\n'), { lines: 6, chars: 600 }, false).split('\n').join('; ')}`);
  }
  lines.push(
    console.tail
      ? `vmbatch: the guest's last console lines:\n${console.tail
          .split('\n')
          .map((l) => `  | ${l}`)
          .join('\n')}`
      : "vmbatch: the guest's console is empty",
  );
  return { lines, reason: end?.reason };
}

function explain(end: DomainEnd | undefined): string {
  if (!end) return 'libvirt has no log of it';
  if (!end.reason) return 'libvirt recorded no reason';
  return reasonText[end.reason] ?? `libvirt's reason: ${end.reason}`;
}

// The console's last lines (right after virtlogd rotated it, the end of the previous file too),
// and the kernel's last panic line, which a panic's stack trace pushes out of the tail.
function consoleTail(consoleFile: string): { tail: string; panic: string | undefined } {
  const current = readFileTail(consoleFile, 16 * 1024);
  const previous = current && current.cut ? undefined : readFileTail(`${consoleFile}.0`, 16 * 1024);
  const text = `${previous?.text ?? ''}${current?.text ?? ''}`;
  const panics = text.match(/Kernel panic - not syncing: [^\r\n]*/g);
  const panic = panics ? printableTail(panics[panics.length - 1]!, { lines: 1, chars: 200 }, false) : undefined;
  return { tail: printableTail(text, lostGuestConsoleTail, Boolean(current?.cut || previous?.cut)), panic };
}
