import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { loadTemplate, type DomainTemplate } from './parse-template.js';

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
