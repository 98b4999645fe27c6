import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import type { VbAttrs } from '../domain/vb-tags.js';
import type { DiskPlan } from '../images/disk-plan.js';
import { imageInfo } from '../images/image-info.js';
import { partitionNumber, partitionTableHeadBytes, readPartitionTable, type Partition } from './partition-table.js';

/** Where the context files lie on the guest's root file system (rootdisk). */
export const diskContextDir = '/var/lib/vmbatch/context';

/** One partition vmbatch writes into: the per-job disk file, its format, and the partition. */
export interface PartitionWrite {
  role: 'rootdisk' | 'jobdisk';
  dev: string;
  partition: string;
  number: number;
  file: string;
  format: string;
}

/**
 * Plans DISK contextualization: each <vbdisk> names a partition of a template disk; that disk
 * must be a per-job file (an overlay or a private copy), since vmbatch writes into it.
 */
export function planDiskContext(partitions: VbAttrs<'vbdisk'>[], disks: DiskPlan[], jobDir: string): PartitionWrite[] {
  return partitions.map((p) => {
    const disk = disks.find((d) => d.target === p.dev);
    const number = partitionNumber(p.partition);
    if (!disk || disk.kind !== 'disk' || number === undefined) {
      throw new VmbatchError('DISK_CONTEXT_FAILED', { partition: p.partition, reason: `the template has no disk with <target dev='${p.dev}'/> to hold it` });
    }
    // the partition table (and so every offset and size root's qemu-img dd and qemu-io use)
    // would be the submitter's: a submitter's image is never written into
    if ((disk.base.kind === 'shared' || disk.base.kind === 'download') && disk.base.source.origin === 'submitter') {
      throw new VmbatchError('USER_IMAGE_REFUSED', {
        image: disk.base.source.url,
        reason: `the domain template contextualizes by DISK, writing into partition ${p.partition} of this image, whose partition table would be the submitter's; submitter images need a CDROM or ROOTSSH template`,
      });
    }
    if (!disk.file.startsWith(`${jobDir}/`)) {
      throw new VmbatchError('DISK_CONTEXT_FAILED', { partition: p.partition, reason: `disk ${p.dev} is used in place (read-only or shared); it needs a per-job copy-on-write overlay` });
    }
    return {
      role: p.name === 'jobdisk' ? 'jobdisk' : 'rootdisk',
      dev: p.dev,
      partition: p.partition,
      number,
      file: disk.file,
      format: disk.kind === 'disk' && disk.access === 'overlay' ? disk.cow! : disk.baseFormat,
    };
  });
}

/**
 * Writes a directory tree into an ext2/3/4 partition of a disk image without mounting it: the
 * partition is read into a raw file, changed with e2fsprogs' debugfs, and only the blocks that
 * changed are written back (qemu-io), so a qcow2 overlay grows by what was written.
 */
export async function writeTreeIntoPartition(target: PartitionWrite, tree: string, into: string, scratch: string): Promise<void> {
  const part = await findPartition(target, scratch);
  const raw = join(scratch, `${target.partition}.raw`);
  const original = join(scratch, `${target.partition}.orig`);
  try {
    const bs = blockSizeFor(part);
    // qemu-img dd counts `count` from the start of the input, skipped blocks included
    await runTool(['qemu-img', 'dd', '-f', target.format, '-O', 'raw', `bs=${bs}`, `skip=${part.offset / bs}`, `count=${(part.offset + part.size) / bs}`, `if=${target.file}`, `of=${raw}`]);
    await runTool(['cp', '--sparse=always', raw, original]);
    const { prepare, write } = debugfsCommands(tree, into);
    // pass 1 makes directories and removes old copies: "exists"/"not found" answers are expected
    await debugfs(raw, prepare, target.partition, true);
    await debugfs(raw, write, target.partition, false);
    await writeBack(target, part, raw, original, scratch);
  } finally {
    rmSync(raw, { force: true });
    rmSync(original, { force: true });
  }
}

async function findPartition(target: PartitionWrite, scratch: string): Promise<Partition> {
  const head = join(scratch, 'head.raw');
  try {
    const diskBytes = (await imageInfo(target.file, target.format)).virtualSize;
    const sectors = partitionTableHeadBytes / 512;
    await runTool(['qemu-img', 'dd', '-f', target.format, '-O', 'raw', 'bs=512', `count=${sectors}`, `if=${target.file}`, `of=${head}`]);
    // a disk smaller than what is asked for gives a shorter file
    const buf = Buffer.alloc(Math.min(partitionTableHeadBytes, diskBytes));
    const fd = openSync(head, 'r');
    const read = readSync(fd, buf, 0, buf.length, 0);
    closeSync(fd);
    const table = readPartitionTable(buf.subarray(0, read), diskBytes);
    if ('problems' in table) throw new VmbatchError('PARTITION_TABLE_INVALID', { dev: target.dev, problems: table.problems });
    const part = table.partitions.find((p) => p.number === target.number);
    if (!part) {
      throw new VmbatchError('PARTITION_NOT_FOUND', {
        dev: target.dev,
        partition: target.partition,
        found: table.partitions.map((p) => `${target.dev}${p.number} (${Math.round(p.size / 1048576)} MiB)`),
      });
    }
    return part;
  } finally {
    rmSync(head, { force: true });
  }
}

// The largest block size (up to 1 MiB) that divides the partition's offset and size.
function blockSizeFor(part: Partition): number {
  let bs = 1048576;
  while (bs > 512 && (part.offset % bs !== 0 || part.size % bs !== 0)) bs /= 2;
  return bs;
}

function debugfsCommands(tree: string, into: string): { prepare: string[]; write: string[] } {
  const prepare: string[] = [];
  const write: string[] = [];
  const walk = (hostDir: string, guestDir: string) => {
    for (const name of readdirSync(hostDir).sort()) {
      const host = join(hostDir, name);
      const guest = `${guestDir}/${name}`;
      const st = lstatSync(host);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        // directories are made 0755 root (existing ones, like /etc, keep what they have)
        prepare.push(`mkdir ${quote(guest)}`);
        walk(host, guest);
      } else if (st.isSymbolicLink()) {
        prepare.push(`rm ${quote(guest)}`);
        write.push(`symlink ${quote(guest)} ${quote(readlinkSync(host))}`);
      } else {
        prepare.push(`rm ${quote(guest)}`);
        write.push(`write ${quote(host)} ${quote(guest)}`, `sif ${quote(guest)} mode 0100${mode.padStart(3, '0')}`, `sif ${quote(guest)} uid 0`, `sif ${quote(guest)} gid 0`);
      }
    }
  };
  walk(tree, into.replace(/\/+$/, ''));
  return { prepare, write };
}

// debugfs reads its commands from a file; it exits 0 whatever a command said, so its error
// lines are the verdict (the version banner aside)
async function debugfs(raw: string, commands: string[], partition: string, tolerant: boolean): Promise<void> {
  if (commands.length === 0) return;
  const cmdFile = `${raw}.cmds`;
  writeFileSync(cmdFile, commands.join('\n') + '\n');
  try {
    const run = await runTool(['debugfs', '-w', '-f', cmdFile, raw]).catch((error: unknown) => {
      throw new VmbatchError('DISK_CONTEXT_FAILED', { partition, reason: error instanceof Error ? error.message : String(error) });
    });
    const errors = run.stderr.split('\n').filter((l) => l.trim() && !/^debugfs \d/.test(l));
    if (errors.some((l) => /Bad magic number|Filesystem not open|Couldn't find valid filesystem/.test(l))) {
      throw new VmbatchError('DISK_CONTEXT_FAILED', { partition, reason: 'it holds no ext2/3/4 file system' });
    }
    if (!tolerant && errors.length) throw new VmbatchError('DISK_CONTEXT_FAILED', { partition, reason: errors.slice(0, 5).join('; ') });
  } finally {
    rmSync(cmdFile, { force: true });
  }
}

// Compares the changed raw partition with its original in 64 KiB blocks and writes each run of
// changed blocks back at its place in the disk image.
async function writeBack(target: PartitionWrite, part: Partition, raw: string, original: string, scratch: string): Promise<void> {
  const block = 65536;
  const a = openSync(raw, 'r');
  const b = openSync(original, 'r');
  const ranges: { start: number; length: number }[] = [];
  try {
    const x = Buffer.alloc(block);
    const y = Buffer.alloc(block);
    for (let at = 0; at < part.size; at += block) {
      const n = readSync(a, x, 0, block, at);
      readSync(b, y, 0, block, at);
      if (x.subarray(0, n).equals(y.subarray(0, n))) continue;
      const last = ranges.at(-1);
      if (last && last.start + last.length === at) last.length += n;
      else ranges.push({ start: at, length: n });
    }
    const commands: string[] = [];
    const files: string[] = [];
    for (const [i, r] of ranges.entries()) {
      const file = join(scratch, `range-${i}.bin`);
      const buf = Buffer.alloc(r.length);
      readSync(a, buf, 0, r.length, r.start);
      writeFileSync(file, buf);
      files.push(file);
      commands.push('-c', `write -s ${file} ${part.offset + r.start} ${r.length}`);
    }
    try {
      for (let i = 0; i < commands.length; i += 200) await runTool(['qemu-io', '-f', target.format, ...commands.slice(i, i + 200), target.file]);
    } finally {
      for (const f of files) rmSync(f, { force: true });
    }
  } finally {
    closeSync(a);
    closeSync(b);
  }
}

function quote(path: string): string {
  if (/["\n]/.test(path)) throw new VmbatchError('DISK_CONTEXT_FAILED', { partition: path, reason: 'a path with a quote or newline cannot be written' });
  return `"${path}"`;
}

/** The systemd unit that runs prolog.sh at boot on a DISK-contextualized guest. */
export const bootUnit = `[Unit]
Description=vmbatch: prepare the guest for the job
After=local-fs.target network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/bin/sh ${diskContextDir}/prolog.sh ${diskContextDir}

[Install]
WantedBy=multi-user.target
`;

/**
 * DISK contextualization, the effect: the staged context files go to /var/lib/vmbatch/context on
 * the rootdisk partition with a systemd unit (enabled) that runs prolog.sh at boot (guests with
 * another init run it themselves, docs/guest-contract.md); the job script goes to the root of
 * the jobdisk partition when there is one.
 */
export async function writeDiskContext(writes: PartitionWrite[], input: { contextTree: string; jobScript: { name: string; content: string }; scratch: string }): Promise<void> {
  const { scratch } = input;
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const rootTree = join(scratch, 'rootdisk');
  mkdirSync(join(rootTree, dirname(diskContextDir.slice(1))), { recursive: true });
  renameSync(input.contextTree, join(rootTree, diskContextDir.slice(1)));
  const units = join(rootTree, 'etc/systemd/system');
  mkdirSync(join(units, 'multi-user.target.wants'), { recursive: true });
  writeFileSync(join(units, 'vmbatch-context.service'), bootUnit, { mode: 0o644 });
  symlinkSync('../vmbatch-context.service', join(units, 'multi-user.target.wants', 'vmbatch-context.service'));
  const jobTree = join(scratch, 'jobdisk');
  mkdirSync(jobTree, { recursive: true });
  writeFileSync(join(jobTree, input.jobScript.name), input.jobScript.content, { mode: 0o700 });
  try {
    for (const w of writes) await writeTreeIntoPartition(w, w.role === 'rootdisk' ? rootTree : jobTree, '/', scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
