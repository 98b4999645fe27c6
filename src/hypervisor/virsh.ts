import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { runTool, type ToolResult } from '../exec/run-tool.js';

const unreachable = /failed to connect to the hypervisor|Failed to connect socket|no connection driver available/i;

/** Runs virsh against a libvirt URI; an unreachable daemon becomes LIBVIRT_UNREACHABLE. */
export async function virsh(uri: string, args: string[], options: { okExitCodes?: number[] } = {}): Promise<ToolResult> {
  try {
    const result = await runTool(['virsh', '-q', '-c', uri, ...args], { ...options, timeoutMs: 60_000 });
    // an exit code the caller accepts (e.g. 1 = no such domain) is also what virsh says when it cannot connect
    if (result.exitCode !== 0 && unreachable.test(result.stderr)) throw new VmbatchError('LIBVIRT_UNREACHABLE', { uri, stderr: lastLine(result.stderr) });
    return result;
  } catch (error) {
    if (isVmbatchError(error, 'TOOL_FAILED') && unreachable.test(error.params.stderr)) {
      throw new VmbatchError('LIBVIRT_UNREACHABLE', { uri, stderr: lastLine(error.params.stderr) });
    }
    throw error;
  }
}

/** Starts a transient domain from an XML file. */
export async function createDomain(uri: string, name: string, xmlFile: string): Promise<void> {
  try {
    await virsh(uri, ['create', xmlFile]);
  } catch (error) {
    if (isVmbatchError(error, 'TOOL_FAILED')) throw new VmbatchError('DOMAIN_CREATE_FAILED', { domain: name, stderr: cleanVirshError(error.params.stderr) });
    throw error;
  }
}

/** Stops a domain at once; a domain that does not exist is already gone (idempotent). */
export async function destroyDomain(uri: string, name: string): Promise<'destroyed' | 'absent'> {
  const result = await virsh(uri, ['destroy', name], { okExitCodes: [1] });
  if (result.exitCode === 0) return 'destroyed';
  if (/failed to get domain|not found/i.test(result.stderr)) return 'absent';
  if (/not running/i.test(result.stderr)) {
    // an inactive persistent definition (left by hand) would keep the name taken
    await virsh(uri, ['undefine', name], { okExitCodes: [1] });
    return 'absent';
  }
  throw new VmbatchError('TOOL_FAILED', { argv: ['virsh', '-c', uri, 'destroy', name], exitCode: result.exitCode, stderr: result.stderr });
}

/** The names of all domains, running or defined. */
export async function listDomains(uri: string): Promise<string[]> {
  const result = await virsh(uri, ['list', '--all', '--name']);
  return result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Whether a domain exists (running or defined). */
export async function domainExists(uri: string, name: string): Promise<boolean> {
  const result = await virsh(uri, ['domstate', name], { okExitCodes: [1] });
  return result.exitCode === 0;
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? text;
}

/** virsh's message without its "error: " prefixes: the libvirt sentences only, joined by '; '. */
export function cleanVirshError(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^error: /, '').trim())
    .filter((l) => l && !/^Failed to create domain from/.test(l))
    .join('; ');
}
