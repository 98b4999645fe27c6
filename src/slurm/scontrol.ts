import { isVmbatchError, VmbatchError } from '../errors/vmbatch-error.js';
import { runTool, type ToolResult } from '../exec/run-tool.js';

/**
 * Runs scontrol with a bound on its time: a controller that does not answer must not hold a
 * prolog or a task. Its failure is SLURM_COMMAND_FAILED (transient: the controller may be back).
 */
export async function runScontrol(args: string[], timeoutMs = 15_000): Promise<ToolResult> {
  const argv = ['scontrol', ...args];
  try {
    return await runTool(argv, { timeoutMs });
  } catch (error) {
    if (isVmbatchError(error) && error.code === 'TOOL_FAILED') {
      const p = error.params as { exitCode: number | string; stderr: string };
      throw new VmbatchError('SLURM_COMMAND_FAILED', { argv, exitCode: p.exitCode, stderr: p.stderr });
    }
    throw error;
  }
}
