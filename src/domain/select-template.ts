import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { largestAllowed } from './guest-size.js';
import { nodeCapacity } from './node-capacity.js';
import { loadTemplate, type DomainTemplate } from './parse-template.js';
import type { TemplateSummary } from '../catalogue/resolve-request.js';
import type { Logger } from '../log/logger.js';

/** The template names (file names without .xml) in a domains directory. */
export function listTemplates(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.xml'))
      .map((f) => f.slice(0, -4))
      .sort();
  } catch {
    return [];
  }
}

/** Loads the template the job asked for, or the site default. */
export async function selectTemplate(dir: string, requested: string | undefined, fallback: string): Promise<DomainTemplate> {
  const name = requested ?? fallback;
  const available = listTemplates(dir);
  if (!available.includes(name)) throw new VmbatchError('DOMAIN_NOT_FOUND', { name, dir, available });
  return loadTemplate(join(dir, `${name}.xml`));
}

/**
 * The templates that realise catalogue VMs (<vbcatalogue vm=...>), with the most memory their guests may have. A broken
 * template is left out with a log line: it must not stop jobs that would not use it.
 */
export async function summarizeTemplates(dir: string, log?: Logger): Promise<TemplateSummary[]> {
  const out: TemplateSummary[] = [];
  for (const name of listTemplates(dir)) {
    try {
      const t = await loadTemplate(join(dir, `${name}.xml`));
      // the guest is sized per job (its memory at least the VM's need): what counts is the most it may get
      const maxMiB = largestAllowed(t.size.memoryMiB, { value: nodeCapacity().memoryMiB, source: "this node's memory" }).value;
      if (t.vb.catalogueVms.length) out.push({ name, vms: t.vb.catalogueVms, memoryKiB: maxMiB * 1024 });
    } catch (error) {
      log?.warn('template skipped for catalogue VMs', { template: name, error: error instanceof Error ? error.message.split('\n')[0] : String(error) });
    }
  }
  return out;
}
