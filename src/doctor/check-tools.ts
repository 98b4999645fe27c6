import { isVmbatchError } from '../errors/vmbatch-error.js';
import { runTool, toolPackages } from '../exec/run-tool.js';
import { fail, failOf, ok, warn, type CheckResult, type ConfiguredContext, type DoctorContext } from './check-result.js';

/** A tool the node needs: how to ask its version, and what its absence means. */
interface ToolSpec {
  tool: string;
  /** the command printing the version (on stdout or stderr) */
  versionArgv: string[];
  /** exit codes of the version command that still answer */
  okExitCodes?: number[];
  /** a sibling that prints the version when the tool itself cannot (ssh-keygen: ssh, of the same package) */
  versionFrom?: string[];
  /** fail: jobs cannot run without it; warn: only the admin's set-up needs it */
  missing: 'fail' | 'warn';
  /** why it is needed, said when it is missing */
  usedFor: string;
}

const tools: ToolSpec[] = [
  { tool: 'qemu-img', versionArgv: ['qemu-img', '--version'], missing: 'fail', usedFor: "every job's copy-on-write disks" },
  { tool: 'genisoimage', versionArgv: ['genisoimage', '--version'], missing: 'fail', usedFor: 'the context CD-ROM of CDROM templates' },
  { tool: 'flock', versionArgv: ['flock', '--version'], missing: 'fail', usedFor: "every prologue's locks" },
  { tool: 'getent', versionArgv: ['getent', '--version'], missing: 'fail', usedFor: "every prologue's lookup of the job's user" },
  // vmbatch makes its keys itself; the admin makes the ROOTSSH key with it (docs/admin.md, "ROOTSSH")
  { tool: 'ssh-keygen', versionArgv: ['ssh-keygen', '-?'], okExitCodes: [1], versionFrom: ['ssh', '-V'], missing: 'warn', usedFor: "the site's ROOTSSH key" },
];

/** The tools jobs run, each found in PATH with its version; a missing one names its Debian package. */
export async function checkTools(ctx: DoctorContext): Promise<CheckResult[]> {
  return Promise.all(tools.map((spec) => checkTool(spec, ctx.path)));
}

/** virtiofsd at shares.virtiofsd, when shares are on (shares.virtiofs). */
export async function checkVirtiofsd(ctx: ConfiguredContext): Promise<CheckResult> {
  const { virtiofs, virtiofsd } = ctx.config.shares;
  if (!virtiofs) return ok('virtiofsd', 'not needed: shares.virtiofs is false (working directories are staged)');
  const spec: ToolSpec = { tool: 'virtiofsd', versionArgv: [virtiofsd, '--version'], missing: 'fail', usedFor: "the guests' shared directories" };
  return checkTool(spec, ctx.path);
}

async function checkTool(spec: ToolSpec, path: string): Promise<CheckResult> {
  try {
    const run = await runTool(spec.versionArgv, { env: { PATH: path }, okExitCodes: spec.okExitCodes, timeoutMs: 10_000 });
    const output = spec.versionFrom ? await siblingOutput(spec.versionFrom, path) : run.stdout + run.stderr;
    const version = /\d+(\.\d+)+[\w.+~-]*/.exec(output)?.[0];
    return ok(spec.tool, version ? `version ${version}` : 'found (version unknown)');
  } catch (error) {
    if (!isVmbatchError(error, 'TOOL_MISSING')) return failOf(spec.tool, error);
    const where = spec.versionArgv[0] === spec.tool ? 'in PATH' : `at ${spec.versionArgv[0]}`;
    const line = spec.missing === 'fail' ? fail : warn;
    return line(spec.tool, `not found ${where} (needed for ${spec.usedFor})`, `install the Debian package ${toolPackages[spec.tool]}`);
  }
}

// What the sibling printed; nothing when it is absent or fails (the tool itself was found).
async function siblingOutput(argv: string[], path: string): Promise<string> {
  try {
    const run = await runTool(argv, { env: { PATH: path }, timeoutMs: 10_000 });
    return run.stdout + run.stderr;
  } catch {
    return '';
  }
}
