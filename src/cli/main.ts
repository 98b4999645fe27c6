#!/usr/bin/env node
import { parseArgs } from 'node:util';
// No static import: a module that cannot be loaded (an installation being replaced, or not
// readable by the job's user) must end in one clear line, not in Node's stack trace.

const usage = `usage: vmbatch COMMAND [ARGS]

Torque hooks (installed by scripts/install-hooks.sh; pbs_mom passes the arguments):
  prologue JOBID USER GROUP JOBNAME RESOURCES QUEUE ACCOUNT SCRIPT
  epilogue JOBID USER GROUP JOBNAME SESSION RESOURCES USED QUEUE ACCOUNT EXIT SCRIPT
  remoteshell SHELL            ($job_starter; job script path on stdin)

Slurm hooks (run by the vmbatch SPANK plugin, slurm/vmbatch_spank.c; docs/slurm.md):
  slurm-prolog [--vm-NAME=VALUE...]   as root, in slurmd's prolog environment
  slurm-epilog                        as root, in slurmd's epilog environment
  slurm-task [ARG...]                 as the user, instead of the task's program

For site admins:
  validate FILE...             check domain templates, report every problem
  plan JOBID USER GROUP SCRIPT [--resources LIST] [--workdir DIR]
                               dry run: print the prologue's plan (domain XML, disks, ISO)
  reconcile [--dry-run] [--json]
                               after a crash, a reboot or a missed epilogue: remove what belongs
                               to no live job (run at boot, from pbs_mom's start and from cron)
  doctor [--json]              is this node ready for jobs? one line per check (ok, warn, fail);
                               exit 0 when nothing fails, 1 when a check fails
`;

const imagesHelp = async () =>
  `\nThe image cache:\n${(await import('./images-command.js')).imagesUsage}\nThe software catalogue (runtime environments, vbrte):\n${(await import('./catalogue-command.js')).catalogueUsage}`;

/** The vmbatch command line: the hooks, template validation and the dry-run plan. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // each command loads only its own modules: hook start-up time is part of every job's wait
  switch (command) {
    case 'prologue':
      return (await (await import('../hooks/prologue.js')).runPrologue(rest, process.env)).exitCode;
    case 'epilogue':
      return (await import('../hooks/epilogue.js')).runEpilogue(rest);
    case 'remoteshell':
      return (await import('../hooks/remoteshell.js')).runRemoteshell(process.env);
    case 'slurm-prolog':
      return (await import('../slurm/slurm-prolog.js')).runSlurmProlog(rest, process.env);
    case 'slurm-epilog':
      return (await import('../slurm/slurm-epilog.js')).runSlurmEpilog(process.env);
    case 'slurm-task':
      return (await import('../slurm/slurm-task.js')).runSlurmTask(rest, process.env);
    case 'session-mux':
      return sessionMux(rest);
    case 'validate':
      return validate(rest);
    case 'plan':
      return plan(rest);
    case 'images':
      return (await import('./images-command.js')).imagesCommand(rest);
    case 'catalogue':
      return (await import('./catalogue-command.js')).catalogueCommand(rest);
    case 'reconcile':
      return (await import('./reconcile-command.js')).reconcileCommand(rest);
    case 'doctor':
      return (await import('./doctor-command.js')).doctorCommand(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(usage + (await imagesHelp()));
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`vmbatch: unknown command '${command}'\n${usage}${await imagesHelp()}`);
      return 1;
  }
}

// The job's session multiplexer (started by the Slurm prolog, as root): serves until the guest's
// connection ends, so this never returns once it serves.
async function sessionMux(argv: string[]): Promise<number> {
  const { loadConfig } = await import('../config/load.js');
  const { jobIdSchema } = await import('../job/names.js');
  const { formatError } = await import('../errors/vmbatch-error.js');
  try {
    const jobId = jobIdSchema.parse(argv[0]);
    await (await import('../remoteshell/start-session-mux.js')).sessionMuxCommand(loadConfig(), jobId);
    return await new Promise<number>(() => undefined);
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}

async function validate(files: string[]): Promise<number> {
  const { loadTemplate } = await import('../domain/parse-template.js');
  const { formatError } = await import('../errors/vmbatch-error.js');
  let failed = 0;
  for (const file of files) {
    try {
      const t = await loadTemplate(file);
      process.stdout.write(`${file}: valid (${t.vb.prepareMethod} on ${t.vb.hypervisor}, ${t.disks.length} disk(s))\n`);
    } catch (error) {
      failed++;
      process.stderr.write(formatError(error) + '\n');
    }
  }
  return failed ? 1 : 0;
}

async function plan(argv: string[]): Promise<number> {
  const { loadConfig } = await import('../config/load.js');
  const { parsePrologueArgv } = await import('../job/hook-argv.js');
  const { describePlan, planPrologue } = await import('../plan/prologue-plan.js');
  const { gatherJobInputs } = await import('../plan/job-inputs.js');
  const { formatError } = await import('../errors/vmbatch-error.js');
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { resources: { type: 'string', default: '' }, workdir: { type: 'string' } } });
    const [jobId = '', user = '', group = '', script = ''] = positionals;
    const config = loadConfig();
    const args = parsePrologueArgv([jobId, user, group, 'STDIN', values.resources ?? '', 'batch', '', script]);
    const job = (await import('../job/torque-job.js')).torqueJobDescription(args, values.workdir);
    const log = (await import('../log/logger.js')).createLogger(undefined, 'plan');
    const inputs = await gatherJobInputs(config, job, { deadline: Date.now() + 120_000, log });
    // a dry run reserves nothing: the first uid of the pool stands for the job's
    const guestIdentity = { uid: config.guestIdentity.uids.first, gid: await (await import('../identity/guest-identity.js')).resolveGuestGroup(config) };
    const p = planPrologue({ config, job, ...inputs, guestIdentity });
    process.stdout.write(JSON.stringify(describePlan(p), null, 2) + '\n');
    return 0;
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return 1;
  }
}

// Exit explicitly once stdout and stderr are flushed: an open stdin (remoteshell) or a
// lingering handle must not keep a hook alive after its work is done.
const exitWhenFlushed = (code: number) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

/** What a hook exits with when vmbatch itself cannot run: remoteshell and a Slurm task as ssh does (the job did not run), the others 1 (pbs_mom aborts the job; Slurm drains the node). */
function cannotRunStatus(command: string | undefined): number {
  return command === 'remoteshell' || command === 'slurm-task' ? 255 : 1;
}

/** One line for a module that cannot be loaded (missing, or unreadable by this user); undefined for any other error. */
function loadFailureLine(error: unknown, command: string | undefined): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (!['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT', 'EACCES', 'EPERM', 'ENOENT'].includes(code ?? '')) return undefined;
  const what = String((error as Error).message).split('\n')[0];
  const user = process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.()}`;
  const outcome = command === 'remoteshell' || command === 'slurm-task' ? 'the job did not run' : command === 'prologue' ? 'the job is aborted' : command === 'slurm-prolog' ? 'Slurm drains the node' : 'nothing was done';
  return `vmbatch: cannot load vmbatch's code as ${user} (${code}: ${what}); ${outcome}. An administrator must check the installation (complete, and readable by every user)`;
}

const command = process.argv[2];
main(process.argv.slice(2)).then(
  (code) => exitWhenFlushed(code),
  async (error: unknown) => {
    const line = loadFailureLine(error, command) ?? (await import('../errors/vmbatch-error.js').then((m) => m.formatError(error)).catch(() => String(error)));
    process.stderr.write(line + '\n');
    exitWhenFlushed(cannotRunStatus(command));
  },
);
