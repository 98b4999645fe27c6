import { catalogueUsage } from './catalogue-usage.js';
import { imagesUsage } from './images-usage.js';
import { warmUsage } from './warm-usage.js';
import { changesUsage } from './changes-usage.js';

/** The commands `vmbatch --help` lists, before the image cache's and the catalogue's. */
export const commandUsage = `usage: vmbatch COMMAND [ARGS]

Torque hooks (installed by \`vmbatch install-hooks torque\`; pbs_mom passes the arguments):
  prologue JOBID USER GROUP JOBNAME RESOURCES QUEUE ACCOUNT SCRIPT
  epilogue JOBID USER GROUP JOBNAME SESSION RESOURCES USED QUEUE ACCOUNT EXIT SCRIPT
  remoteshell SHELL            ($job_starter; job script path on stdin)

Slurm hooks (run by the vmbatch SPANK plugin, installed by \`vmbatch install-hooks slurm\`; docs/slurm.md):
  slurm-prolog [--vm-NAME=VALUE...]   as root, in slurmd's prolog environment
  slurm-epilog                        as root, in slurmd's epilog environment
  slurm-task [ARG...]                 as the user, instead of the task's program

For site admins:
  install-hooks torque|slurm [OPTIONS]
                               install the Torque hooks and pbs_mom's $job_starter line, or the
                               Slurm wrappers and the plugin's plugstack.conf line (idempotent)
  doctor [--json]              is this node ready for jobs? one line per check (ok, warn, fail);
                               exit 0 when nothing fails, 1 when a check fails
  validate FILE...             check domain templates, report every problem
  plan JOBID USER GROUP SCRIPT [--resources LIST] [--workdir DIR]
                               dry run: print the prologue's plan (domain XML, disks, ISO)
  reconcile [--dry-run] [--json]
                               after a crash, a reboot or a missed epilogue: remove what belongs
                               to no live job (run at boot, from pbs_mom's start and from cron)
  code-cache                   compile the package's command files into /var/cache/vmbatch/code
                               (hooks start faster; the package's postinst runs it)
`;

/** The whole `vmbatch --help` text: the commands, the image cache's, warm start's and the catalogue's. */
export const usageText = `${commandUsage}\nThe image cache:\n${imagesUsage}\nWarm start (guests restored from a saved state):\n${warmUsage}\nThe software catalogue (runtime environments, vbrte):\n${catalogueUsage}\nFor submitters, your own saved changes (vbsavechanges, vbchanges):\n${changesUsage}`;

/** `vmbatch --help` (exit 0), or no command at all (the usage, exit 1). */
export function helpCommand(asked: boolean): number {
  process.stdout.write(usageText);
  return asked ? 0 : 1;
}

/** An unknown command: the usage on stderr, exit 1. */
export function unknownCommand(command: string): number {
  process.stderr.write(`vmbatch: unknown command '${command}'\n${usageText}`);
  return 1;
}
