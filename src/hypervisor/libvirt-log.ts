import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readFileTail } from '../fsutil/read-tail.js';

/** The log libvirt keeps of a domain's qemu (qemu:///system: /var/log/libvirt/qemu/NAME.log, with virtlogd's rotations NAME.log.N). */
export function libvirtLogFile(logDir: string, domainName: string): string {
  return join(logDir, `${domainName}.log`);
}

/** How libvirt recorded the end of a domain's last run: its reason word and qemu's own last words. */
export interface DomainEnd {
  /** `shutting down, reason=WORD`: destroyed, crashed, shutdown, failed, ... (undefined: not recorded) */
  reason: string | undefined;
  /** qemu's lines of that run after its command line (e.g. "terminating on signal 15 from pid 1201 (libvirtd)"), without timestamps */
  qemuLines: string[];
}

// The tail is enough: a run's end is its last lines, and the file grows with every run of the name.
const tailBytes = 64 * 1024;

/** Reads how the domain's last run ended from libvirt's log; undefined when there is no log. */
export function readDomainEnd(logDir: string, domainName: string): DomainEnd | undefined {
  const tail = readFileTail(libvirtLogFile(logDir, domainName), tailBytes);
  return tail && parseDomainEnd(tail.text);
}

/** Parses libvirt's qemu log text: the last run (after its last "starting up" line) and how it ended. */
export function parseDomainEnd(text: string): DomainEnd {
  const lines = text.split('\n');
  const start = lines.map((l) => /: starting up /.test(l)).lastIndexOf(true);
  const run = lines.slice(start + 1);
  let reason: string | undefined;
  const qemuLines: string[] = [];
  for (const line of run) {
    const shutdown = /: shutting down, reason=([A-Za-z-]+)/.exec(line);
    if (shutdown) reason = shutdown[1];
    // qemu's own messages carry its name after an ISO timestamp (-msg timestamp=on)
    const qemu = /^\d{4}-\d\d-\d\dT[\d:.]+Z (qemu-system-[\w-]+: .*)$/.exec(line);
    if (qemu?.[1]) qemuLines.push(qemu[1]);
  }
  return { reason, qemuLines: qemuLines.slice(-5) };
}

/** Removes libvirt's log of a domain and its rotations (idempotent). */
export function removeLibvirtLogs(logDir: string, domainName: string): void {
  let names: string[];
  try {
    names = readdirSync(logDir);
  } catch {
    return;
  }
  const own = new RegExp(`^${domainName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.log(\\.\\d+)?$`);
  for (const name of names) if (own.test(name)) rmSync(join(logDir, name), { force: true });
}
