#!/usr/bin/env node
// No static import: a module that cannot be loaded (an installation being replaced, or not
// readable by the job's user) must end in one clear line, not in Node's stack trace. Each
// command is one dynamic import of one module: the package bundles each such module into a
// file of its own (scripts/bundle.mjs), so a hook loads only its own code and a job whose
// hooks span a package upgrade never mixes two versions' code in one process.

/** The vmbatch command line: the hooks, the admin's commands and the submitters' ones. */
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
      return (await import('./session-mux-command.js')).runSessionMuxCommand(rest);
    case 'validate':
      return (await import('./validate-command.js')).validateCommand(rest);
    case 'plan':
      return (await import('./plan-command.js')).planCommand(rest);
    case 'doctor':
      return (await import('./doctor-command.js')).doctorCommand(rest);
    case 'install-hooks':
      return (await import('./install-hooks-command.js')).installHooksCommand(rest);
    case 'images':
      return (await import('./images-command.js')).imagesCommand(rest);
    case 'catalogue':
      return (await import('./catalogue-command.js')).catalogueCommand(rest);
    case 'changes':
      return (await import('./changes-command.js')).changesCommand(rest);
    case 'reconcile':
      return (await import('./reconcile-command.js')).reconcileCommand(rest);
    case 'warm':
      return (await import('./warm-command.js')).warmCommand(rest);
    case 'code-cache':
      return (await import('./code-cache-command.js')).codeCacheCommand(rest);
    case undefined:
    case '-h':
    case '--help':
      return (await import('./usage.js')).helpCommand(command !== undefined);
    default:
      return (await import('./usage.js')).unknownCommand(command);
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
  const outcome =
    command === 'remoteshell' || command === 'slurm-task'
      ? 'the job did not run'
      : command === 'prologue'
        ? 'the job is aborted'
        : command === 'slurm-prolog'
          ? 'Slurm drains the node'
          : 'nothing was done';
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
