// bench: context build time for each contextualization method next to the bare tools doing the
// same work: the CDROM ISO (genisoimage), the cloud-init seed (genisoimage), the ROOTSSH context
// archive (tar), the ROOTSSH phase in a real guest (from the prologue's own phase timings) next
// to OpenSSH's ssh sending the same archive, and DISK writes into partitions of two sizes next to
// reading the partition out. Prints; asserts nothing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildContextTar, buildIso, stageContext } from '../src/context/build-iso.js';
import { writeDiskContext } from '../src/context/disk-context.js';
import { makePartitionedImage } from '../test/helpers/partitioned-image.js';
import { planCloudInitIso } from '../src/context/cloud-init.js';
import { planContextIso, type IsoLayout } from '../src/context/iso-layout.js';
import { generateKeyPair } from '../src/context/keys.js';
import { ensureHostUser } from '../test/helpers/host-user.js';
import { domainsDir, testGuestDir } from '../test/helpers/paths.js';
import { runEpilogue, runPrologue, setupMom, teardownMom, writeJobScript } from '../test/torque/pbs-mom.js';
import { median, ms } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 15);

const params = {
  VB_NONCE: 'a'.repeat(32),
  VB_JOBID: '1.bench',
  VB_JOBNAME: 'STDIN',
  VB_USER: 'vbbench',
  VB_GROUP: 'vbbench',
  VB_UID: 41101,
  VB_GID: 41102,
  VB_HOME: '/home/vbbench',
  VB_SHELL: '/bin/sh',
  VB_JOBPATH: '/var/spool/vmbatch/jobs',
  VB_JOBFILE: '1.bench.SC',
  VB_READY_CONSOLE: '/dev/ttyS0',
};

// The bare tool's time on the same files: stage them once, time only the tool.
async function bare(layout: IsoLayout, dir: string, tool: (staging: string, out: string) => string[]): Promise<number> {
  const staging = join(dir, 'bare.d');
  rmSync(staging, { recursive: true, force: true });
  for (const f of layout.files) {
    const path = join(staging, f.path);
    await execa('mkdir', ['-p', join(path, '..')]);
    writeFileSync(path, f.content, { mode: f.mode });
  }
  const out = join(dir, 'bare.out');
  rmSync(out, { force: true });
  const [file, ...args] = tool(staging, out);
  return ms(() => execa(file!, args));
}

async function main(): Promise<void> {
  const dir = mkdtempSync('/tmp/vmbatch-bench-ctx-');
  const input = { params, jobScript: '#!/bin/sh\necho hi\n', userKey: generateKeyPair('u'), hostKey: generateKeyPair('h'), tarFiles: [], staticAddress: undefined };
  const rows: [string, number, number, string][] = [];
  try {
    const methods: [string, IsoLayout, (l: IsoLayout, out: string) => Promise<void>, (s: string, o: string) => string[], string][] = [
      ['CDROM ISO (vmbatch style)', planContextIso(input), (l, o) => buildIso(l, o, join(dir, 'st')), (s, o) => ['genisoimage', '-quiet', '-V', 'VMBATCH', '-R', '-J', '-o', o, s], 'genisoimage'],
      ['cloud-init seed (cidata)', planCloudInitIso(input), (l, o) => buildIso(l, o, join(dir, 'st')), (s, o) => ['genisoimage', '-quiet', '-V', 'cidata', '-R', '-J', '-o', o, s], 'genisoimage'],
      ['ROOTSSH context archive', planContextIso(input), (l, o) => buildContextTar(l, o, join(dir, 'st')), (s, o) => ['tar', '-c', '-f', o, '-C', s, '.'], 'tar -c'],
    ];
    for (const [name, layout, build, tool, toolName] of methods) {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const out = join(dir, `out-${i}`);
        ours.push(await ms(() => build(layout, out)));
        rmSync(out, { force: true });
        theirs.push(await bare(layout, dir, tool));
      }
      rows.push([name, median(ours), median(theirs), toolName]);
    }

    // ROOTSSH in a real guest: the prologue's 'rootssh' phase, and ssh(1) doing the same login,
    // archive transfer and unpack into the same (still running) guest, over the job's SSH socket
    // (ssh(1) cannot open a unix socket itself: a python3 relay is its ProxyCommand)
    const unixRelay = join(dir, 'unix-relay.py');
    writeFileSync(
      unixRelay,
      [
        'import os, socket, sys, threading',
        's = socket.socket(socket.AF_UNIX)',
        's.connect(sys.argv[1])',
        'def up():',
        '    while (b := os.read(0, 65536)):',
        '        s.sendall(b)',
        '    s.shutdown(socket.SHUT_WR)',
        'threading.Thread(target=up, daemon=True).start()',
        'while (b := s.recv(65536)):',
        '    os.write(1, b)',
        '',
      ].join('\n'),
    );
    const user = await ensureHostUser('vbbench', 41101, 41102);
    const guest = testGuestDir;
    const template = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8')
      .replace('<vbpreparemethod>CDROM</vbpreparemethod>', '<vbpreparemethod>ROOTSSH</vbpreparemethod>')
      .replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, '');
    const mom = await setupMom({ domains: { rootssh: template }, config: { rootSsh: { privateKeyFile: `${guest}/root_ssh_key`, hostKeysFile: `${guest}/guest_host_key.pub` } } });
    const phase: number[] = [];
    const sshBare: number[] = [];
    try {
      for (let i = 0; i < Math.min(runs, 3); i++) {
        const job = { jobId: `${950 + i}.bench`, user, resources: 'other=vbdomain=rootssh' };
        const script = writeJobScript(mom, job, '#!/bin/sh\ntrue\n');
        const run = await runPrologue(mom, job, script);
        if (run.exitCode !== 0) throw new Error(run.stderr);
        const line =
          readFileSync(mom.logFile, 'utf8')
            .split('\n')
            .filter((l) => l.includes(`job=${job.jobId}`) && l.includes('msg="ready"'))
            .pop() ?? '';
        phase.push(Number(/ rootssh=([\d.]+)/.exec(line)?.[1]));
        const socket = join(mom.stateDir, 'jobs', job.jobId, 'ssh.sock');
        const tarFile = join(dir, 'ctx.tar');
        await buildContextTar(planContextIso(input), tarFile, join(dir, 'st'));
        // the guest's root listener is gone after prolog.sh: the per-job server refuses root, so
        // the bare login goes to the job user with the same transfer and unpack
        const key = join(mom.stateDir, 'jobs', job.jobId, 'user_key');
        sshBare.push(
          await ms(() =>
            execa(
              'ssh',
              [
                '-q',
                '-i',
                key,
                '-o',
                `ProxyCommand=python3 ${unixRelay} ${socket}`,
                '-o',
                'StrictHostKeyChecking=no',
                '-o',
                'UserKnownHostsFile=/dev/null',
                '-o',
                'BatchMode=yes',
                'vbbench@guest',
                'mkdir -p /tmp/c && tar -x -f - -C /tmp/c && true',
              ],
              { inputFile: tarFile },
            ),
          ),
        );
        await runEpilogue(mom, job, script, 0);
      }
    } finally {
      teardownMom(mom);
    }
    rows.push(['ROOTSSH phase (incl. waiting for sshd to boot)', median(phase), median(sshBare), 'ssh + tar -x, guest up']);

    // DISK: the context written into ext4 partitions of a per-job qcow2 overlay; the floor is
    // reading the partition out (qemu-img dd), which is what makes it grow with partition size
    for (const sizeMiB of [16, 256]) {
      const image = join(dir, `disk-${sizeMiB}.qcow2`);
      await makePartitionedImage(image, [
        { sizeMiB, label: 'vbroot' },
        { sizeMiB: 8, label: 'vbjobs' },
      ]);
      const ours: number[] = [];
      const floor: number[] = [];
      for (let i = 0; i < Math.min(runs, 5); i++) {
        const overlay = join(dir, `overlay-${i}.qcow2`);
        await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image, overlay]);
        const tree = join(dir, 'ctx');
        rmSync(tree, { recursive: true, force: true });
        await execa('mkdir', ['-p', tree]);
        await stageContext(planContextIso(input), tree);
        const writes = [
          { role: 'rootdisk' as const, dev: 'vda', partition: 'vda1', number: 1, file: overlay, format: 'qcow2' },
          { role: 'jobdisk' as const, dev: 'vda', partition: 'vda2', number: 2, file: overlay, format: 'qcow2' },
        ];
        ours.push(await ms(() => writeDiskContext(writes, { contextTree: tree, jobScript: { name: '1.bench.SC', content: '#!/bin/sh\n' }, scratch: join(dir, 'scratch') })));
        floor.push(await ms(() => execa('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', 'bs=1M', 'skip=1', `count=${1 + sizeMiB}`, `if=${overlay}`, `of=${join(dir, 'floor.raw')}`])));
        rmSync(join(dir, 'floor.raw'), { force: true });
        rmSync(overlay, { force: true });
      }
      rows.push([`DISK write, ${sizeMiB} MiB root partition`, median(ours), median(floor), 'qemu-img dd of the partition']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`context build by method, median of ${runs} runs (ROOTSSH in a guest: ${Math.min(runs, 3)})`);
  for (const [name, ours, theirs, tool] of rows) {
    console.log(`${name.padEnd(46)} ${ours.toFixed(1).padStart(8)} ms   ${tool.padEnd(30)} ${theirs.toFixed(1).padStart(8)} ms   ratio ${(ours / theirs).toFixed(2)}x`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
