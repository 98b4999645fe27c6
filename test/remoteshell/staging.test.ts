// The staged working directory without a guest: the commands and tar options, and the copies
// against a stand-in SSH client whose "guest" sends what the test chooses (hostile archives,
// endless streams, failures).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, PassThrough, Writable } from 'node:stream';
import { execa } from 'execa';
import { guestPackCommand, guestUnpackCommand, hostPackArgv, hostUnpackArgv, tarFailure } from '../../src/remoteshell/stage-commands.js';
import { mergeUnpacked, recordSentFiles } from '../../src/remoteshell/stage-merge.js';
import { reportedCopy, stageIn, stageOut } from '../../src/remoteshell/staging.js';
import { makeTar, type TarMember } from '../helpers/make-tar.js';

let root: string;
test.before(() => {
  root = mkdtempSync(join(tmpdir(), 'vmbatch-staging-'));
});
test.after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const freshDir = (): string => {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  return dir;
};

/** What the stand-in guest does with one exec: what it sends on stdout/stderr (a buffer, or endless zeros), its exit status. */
interface GuestAct {
  stdout?: Buffer | 'endless';
  stderr?: string;
  exit?: number;
}

// A stand-in for ssh2's Client: each exec gets a channel whose "guest" reads all of stdin, then
// sends `act` and exits; end() drops the session (the channel closes without an exit status).
function fakeClient(acts: GuestAct[]) {
  const commands: string[] = [];
  const stdins: Buffer[] = [];
  let open: Duplex | undefined;
  const client = {
    exec(command: string, _options: unknown, callback: (error: Error | undefined, channel: Duplex) => void) {
      commands.push(command);
      const act = acts.shift() ?? {};
      const input: Buffer[] = [];
      const channel = new Duplex({
        read() {
          if (act.stdout === 'endless') this.push(Buffer.alloc(65536));
        },
        write(chunk: Buffer, _encoding, done) {
          input.push(chunk);
          done();
        },
        final(done) {
          stdins.push(Buffer.concat(input));
          stderr.end(act.stderr ?? '');
          if (act.stdout !== 'endless') {
            if (act.stdout) this.push(act.stdout);
            this.push(null);
          }
          done();
        },
      });
      const stderr = new PassThrough();
      Object.assign(channel, { stderr });
      channel.once('end', () => {
        channel.emit('exit', act.exit ?? 0);
        channel.emit('close');
      });
      open = channel;
      callback(undefined, channel);
    },
    end() {
      open?.destroy();
      open?.emit('close');
    },
  };
  return { client: client as never, commands, stdins };
}

// A tar archive as bytes, made by python's tarfile (any member, hostile ones too).
async function archive(members: TarMember[]): Promise<Buffer> {
  const file = join(root, `a${n++}.tar`);
  await makeTar(file, members);
  return readFileSync(file);
}

const text = () => {
  let out = '';
  return { stream: new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) }), text: () => out };
};

test('the commands: the node packs and unpacks with GNU tar, the guest with any tar, paths quoted', () => {
  assert.equal(hostPackArgv('/home/u/job 1'), ['tar', '-c', '-f', '-', '-C', '/home/u/job 1', '.']);
  assert.equal(hostUnpackArgv('/home/u/job/.vmbatch-stage-x'), ['tar', '-x', '-f', '-', '-C', '/home/u/job/.vmbatch-stage-x', '--no-same-owner', '--no-same-permissions', '--no-overwrite-dir']);
  assert.is(guestUnpackCommand("/home/o'brien/job"), "cd '/home/o'\\''brien/job' && tar -x -o -f -");
  assert.is(guestPackCommand('/home/u/job'), 'cd /home/u/job && tar -c -f - .');
});

test("a tar's failure in one printable line: its first real message, how many more, tar's notices left out", () => {
  assert.is(
    tarFailure(
      "the node's tar",
      2,
      "tar: Removing leading `../' from member names\ntar: ../x: Member name contains '..'\ntar: e/f: Cannot open: Not a directory\ntar: Exiting with failure status due to previous errors\n",
    ),
    "the node's tar exited with status 2: tar: ../x: Member name contains '..' (and 1 more message)",
  );
  assert.is(tarFailure("the guest's tar", 1, 'sh: \x1b[31mred\x1b[0m\r\n'), "the guest's tar exited with status 1: sh: red");
  assert.is(tarFailure("the node's tar", -1, ''), "the node's tar was stopped");
});

test('the failure line names the direction and keeps the status out of it; as root nothing is copied', async () => {
  const staged = { hostDir: '/home/u/job', guestDir: '/home/u/job', mode: 'rw' as const };
  const err = text();
  await reportedCopy('in', staged, async () => "the guest's tar exited with status 1: tar: short read", err.stream, 1000);
  await reportedCopy(
    'out',
    staged,
    async () => {
      throw new Error('boom\nforged line');
    },
    err.stream,
    1000,
  );
  await reportedCopy('out', staged, async () => undefined, err.stream, 1000);
  let copied = false;
  await reportedCopy('in', staged, async () => ((copied = true), undefined), err.stream, 0);
  assert.not.ok(copied);
  assert.is(
    err.text(),
    "vmbatch: STAGE_FAILED: the working directory /home/u/job was not copied wholly into the guest: the guest's tar exited with status 1: tar: short read; the job runs with what was copied\n" +
      'vmbatch: STAGE_FAILED: the working directory /home/u/job was not copied wholly back from the guest: boomforged line; what was copied back is kept\n' +
      "vmbatch: STAGE_FAILED: the working directory /home/u/job was not copied wholly into the guest: remoteshell runs as root, and only the job's user copies its files; the job runs with what was copied\n",
  );
});

test("stage in: the directory as a tar stream into the guest's unpacking command", async () => {
  const dir = freshDir();
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'input.txt'), 'data\n');
  symlinkSync('sub/input.txt', join(dir, 'link'));
  const guest = fakeClient([{}]);
  assert.is(await stageIn(guest.client, { hostDir: dir, guestDir: '/g/job', mode: 'rw' }), undefined);
  assert.equal(guest.commands, ['cd /g/job && tar -x -o -f -']);
  const listed = await execa('tar', ['-t', '-v', '-f', '-'], { input: guest.stdins[0] });
  const names = listed.stdout
    .split('\n')
    .map((l) => l.replace(/^.* \.\//, './'))
    .sort();
  assert.equal(names, ['./', './link -> sub/input.txt', './sub/', './sub/input.txt']);
});

test("stage in: a guest that fails to unpack, and a directory the node's tar cannot read, are reasons", async () => {
  const guest = fakeClient([{ exit: 1, stderr: "sh: cd: can't cd to /g/job: No such file or directory\n" }]);
  const dir = freshDir();
  assert.is(await stageIn(guest.client, { hostDir: dir, guestDir: '/g/job', mode: 'rw' }), "the guest's tar exited with status 1: sh: cd: can't cd to /g/job: No such file or directory");
  const missing = await stageIn(fakeClient([{}]).client, { hostDir: join(root, 'nowhere'), guestDir: '/g/job', mode: 'rw' });
  assert.is(missing, `the node's tar exited with status 2: tar: ${join(root, 'nowhere')}: Cannot open: No such file or directory`);
});

test('stage out: the files come back with the modes the job chose, merged into what the node has, nothing left over', async () => {
  const dir = freshDir();
  writeFileSync(join(dir, 'input.txt'), 'in\n');
  writeFileSync(join(dir, 'untouched'), 'node\n');
  const sent = await archive([
    { name: './', dir: true, mode: 0o777 },
    { name: './input.txt', content: 'in\n' },
    { name: './result.txt', content: 'out\n', mode: 0o640 },
    { name: './out', dir: true, mode: 0o750 },
    { name: './out/part', content: 'p\n', mode: 0o600 },
  ]);
  const guest = fakeClient([{ stdout: sent }]);
  assert.is(await stageOut(guest.client, { hostDir: dir, guestDir: '/g/job', mode: 'rw' }, 1 << 20), undefined);
  assert.equal(guest.commands, ['cd /g/job && tar -c -f - .']);
  assert.equal(readdirSync(dir).sort(), ['input.txt', 'out', 'result.txt', 'untouched']);
  assert.is(lstatSync(join(dir, 'result.txt')).mode & 0o7777, 0o640);
  assert.is(lstatSync(join(dir, 'out')).mode & 0o7777, 0o750);
  assert.is(readFileSync(join(dir, 'out', 'part'), 'utf8'), 'p\n');
  assert.is(lstatSync(dir).mode & 0o777, 0o755, "the staged directory keeps its own mode, not the archive's '.'");
});

test("stage out: a file the job left as it was sent keeps the node's copy, which changed meanwhile (Slurm's --output); a file the job changed replaces it", async () => {
  const dir = freshDir();
  writeFileSync(join(dir, 'out.txt'), '');
  writeFileSync(join(dir, 'data'), 'old\n');
  utimesSync(join(dir, 'out.txt'), 1_700_000_000, 1_700_000_000);
  utimesSync(join(dir, 'data'), 1_700_000_000, 1_700_000_000);
  const sent = recordSentFiles(dir);
  assert.equal([...sent].sort(), [
    ['data', 1_700_000_000],
    ['out.txt', 1_700_000_000],
  ]);
  // the node writes the job's output while it runs
  writeFileSync(join(dir, 'out.txt'), 'the job printed this\n');
  const back = await archive([
    { name: './out.txt', content: '', mtime: 1_700_000_000 },
    { name: './data', content: 'new\n', mtime: 1_700_000_100 },
  ]);
  assert.is(await stageOut(fakeClient([{ stdout: back }]).client, { hostDir: dir, guestDir: '/g/job', mode: 'rw' }, 1 << 20, sent), undefined);
  assert.is(readFileSync(join(dir, 'out.txt'), 'utf8'), 'the job printed this\n');
  assert.is(readFileSync(join(dir, 'data'), 'utf8'), 'new\n');
  assert.equal(readdirSync(dir).sort(), ['data', 'out.txt']);
});

test('stage out, hostile guest: no member lands outside, nothing is written through a link, no setuid bit, no FIFO or device', async () => {
  const outside = freshDir();
  writeFileSync(join(outside, '.bashrc'), 'mine\n');
  const dir = join(outside, 'job');
  mkdirSync(dir);
  // the node's own link in the staged directory: replaced, never followed
  symlinkSync(outside, join(dir, 'mylink'));
  const sent = await archive([
    { name: '../escape', content: 'x' },
    { name: '../../escape2', content: 'x' },
    { name: `${outside}/abs`, content: 'x' },
    { name: 'etc', symlink: '/etc' },
    { name: 'etc/vmbatch-evil', content: 'x' },
    { name: 'rc', symlink: join(outside, '.bashrc') },
    { name: 'rc', content: 'evil\n' },
    { name: 'up', symlink: '..' },
    { name: 'up/.bashrc', content: 'evil\n' },
    { name: 'hard', hardlink: join(outside, '.bashrc') },
    { name: 'hard2', hardlink: '../.bashrc' },
    { name: 'mylink', dir: true },
    { name: 'mylink/.bashrc', content: 'evil\n' },
    { name: 'suid', content: '#!/bin/sh\n', mode: 0o4755 },
    { name: 'sgid', content: '#!/bin/sh\n', mode: 0o2750 },
    { name: 'sticky', dir: true, mode: 0o3777 },
    { name: 'fifo', fifo: true },
    { name: 'null', chardev: true },
  ]);
  const reason = await stageOut(fakeClient([{ stdout: sent }]).client, { hostDir: dir, guestDir: '/g/job', mode: 'rw' }, 1 << 20);
  assert.ok(reason?.startsWith("the node's tar exited with status 2: tar: ../escape: Member name contains '..' (and "), reason);
  assert.match(reason ?? '', /; not copied back: fifo \(a FIFO\)/);
  assert.is(readFileSync(join(outside, '.bashrc'), 'utf8'), 'mine\n');
  assert.equal(readdirSync(outside).sort(), ['.bashrc', 'job']);
  assert.not.ok(existsSync('/etc/vmbatch-evil'));
  // everything that came back is inside, the submitter's, without special bits
  const walk = (d: string): string[] => readdirSync(d).flatMap((e) => [join(d, e), ...(lstatSync(join(d, e)).isDirectory() ? walk(join(d, e)) : [])]);
  for (const path of walk(dir)) {
    const st = lstatSync(path);
    assert.is(st.mode & 0o7000, 0, `${path} has no setuid, setgid or sticky bit`);
    assert.ok(st.isFile() || st.isDirectory() || st.isSymbolicLink(), `${path} is a file, directory or link`);
  }
  assert.ok(lstatSync(join(dir, 'mylink')).isDirectory(), 'the link the node had is replaced by the directory');
  assert.is(readFileSync(join(dir, 'mylink', '.bashrc'), 'utf8'), 'evil\n');
  assert.is(readlinkSync(join(dir, 'etc')), '/etc');
  assert.ok(existsSync(join(dir, outside.slice(1), 'abs')), 'an absolute name lands below the staged directory');
  assert.equal(
    readdirSync(dir).filter((e) => e.startsWith('.vmbatch-stage-')),
    [],
  );
});

test('stage out: an endless stream is cut at the limit and ends the session; what was unpacked before stays', async () => {
  const dir = freshDir();
  const guest = fakeClient([{ stdout: 'endless' }]);
  const reason = await stageOut(guest.client, { hostDir: dir, guestDir: '/g/job', mode: 'rw' }, 1 << 20);
  assert.is(reason, "the guest sent more than 1 MiB (the site's shares.stageOutMaxMiB)");
  assert.equal(readdirSync(dir), []);
});

test('stage out: a staged directory gone from the node, and a guest that cannot pack, are reasons', async () => {
  const gone = join(root, 'gone');
  assert.is(await stageOut(fakeClient([]).client, { hostDir: gone, guestDir: gone, mode: 'rw' }, 1 << 20), 'the node cannot make a directory in it (no such file or directory)');
  const dir = freshDir();
  const reason = await stageOut(fakeClient([{ exit: 2, stderr: "sh: cd: can't cd to /g/job: Permission denied\n" }]).client, { hostDir: dir, guestDir: '/g/job', mode: 'rw' }, 1 << 20);
  assert.is(reason, "the guest's tar exited with status 2: sh: cd: can't cd to /g/job: Permission denied");
});

test('merge: a file where the node has a directory stays behind; directories merge and keep their mode', () => {
  const into = freshDir();
  mkdirSync(join(into, 'keep'), { mode: 0o700 });
  writeFileSync(join(into, 'keep', 'old'), 'old');
  mkdirSync(join(into, 'isdir'));
  const from = join(into, '.vmbatch-stage-t');
  mkdirSync(join(from, 'keep'), { recursive: true, mode: 0o777 });
  writeFileSync(join(from, 'keep', 'new'), 'new');
  writeFileSync(join(from, 'isdir'), 'file');
  assert.equal(mergeUnpacked(from, into), ['isdir (a directory on the node)']);
  assert.equal(readdirSync(join(into, 'keep')).sort(), ['new', 'old']);
  assert.is(lstatSync(join(into, 'keep')).mode & 0o777, 0o700);
  assert.ok(lstatSync(join(into, 'isdir')).isDirectory());
});

test.run();
