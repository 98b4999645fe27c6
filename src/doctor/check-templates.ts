import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { loadTemplate, type DomainTemplate, type TemplateDisk } from '../domain/parse-template.js';
import { listTemplates } from '../domain/select-template.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { cacheDirOf, entryKey, entryPaths, readEntryMeta } from '../images/cache-entry.js';
import { displayUrl, resolveTemplateSource } from '../images/image-source.js';
import { children, textOf } from '../domain/xml-tree.js';
import { fail, failOf, ok, warn, type CheckOutcome, type CheckResult, type ConfiguredContext } from './check-result.js';

/**
 * Every template in domainsDir is valid and its base images are there: local files readable,
 * images fetched into the shared cache already cached (a warn when not: the first job fetches
 * them). An empty domainsDir, or one without the defaultDomain, fails.
 */
export async function checkTemplates(ctx: ConfiguredContext): Promise<CheckOutcome> {
  const { domainsDir, defaultDomain } = ctx.config;
  const names = listTemplates(domainsDir);
  if (names.length === 0) {
    return fail(
      'templates',
      `no domain template (NAME.xml) in ${domainsDir}: every job fails with DOMAIN_NOT_FOUND`,
      `put the site's templates into ${domainsDir} (domains/testguest.xml is an example) or set domainsDir to where they are`,
    );
  }
  const listing = names.includes(defaultDomain)
    ? ok('templates', `${domainsDir}: ${names.join(', ')} (default: ${defaultDomain})`)
    : fail(
        'templates',
        `the default template '${defaultDomain}' (defaultDomain) is not in ${domainsDir} (found: ${names.join(', ')}): jobs that name no template fail with DOMAIN_NOT_FOUND`,
        `add ${join(domainsDir, `${defaultDomain}.xml`)} or set defaultDomain to one of the templates found`,
      );
  const perTemplate = await Promise.all(names.map((name) => checkTemplate(ctx.config, name)));
  return [listing, ...perTemplate.flat()];
}

async function checkTemplate(config: Config, name: string): Promise<CheckResult[]> {
  const check = `template ${name}`;
  let template: DomainTemplate;
  try {
    template = await loadTemplate(join(config.domainsDir, `${name}.xml`));
  } catch (error) {
    return [failOf(check, error)];
  }
  const problems = [...bootFileProblems(check, template), ...template.disks.flatMap((disk) => diskProblem(config, check, disk) ?? [])];
  if (problems.length) return problems;
  return [ok(check, `valid (${template.vb.prepareMethod} on ${template.vb.hypervisor}, ${template.disks.length} disk(s)); base images and boot files present`)];
}

// A kernel or initrd booted directly (<os><kernel>, <initrd>) that cannot be read: the guest would not start.
function bootFileProblems(check: string, template: DomainTemplate): CheckResult[] {
  const os = children(template.tree, 'os')[0];
  if (!os) return [];
  return (['kernel', 'initrd'] as const).flatMap((name) => {
    const path = children(os, name)[0] && textOf(children(os, name)[0]!);
    const why = path ? unreadable(path) : undefined;
    if (!path || why === undefined) return [];
    return [fail(check, `the ${name} of the template, ${path}, ${why}`, `install it at that path (for the test guest: make guest) or fix <os><${name}> in the template`)];
  });
}

// Why a file cannot be read by root, or undefined when it can.
function unreadable(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : `cannot be read: ${code}`;
  }
}

// What is wrong with a disk's base image, or undefined when it is ready.
function diskProblem(config: Config, check: string, disk: TemplateDisk): CheckResult | undefined {
  const vb = disk.vbdisksource;
  // the context CD-ROM and created disks are made per job; a submitter's image comes with the job
  if (disk.vbpreparecdrom || vb?.create) return undefined;
  if (vb?.copy_method) {
    let url: string;
    try {
      url = resolveTemplateSource(vb.source, config.images.siteBase);
    } catch (error) {
      return failOf(check, error);
    }
    // copy_method='download' fetches the image for each job: there is nothing to find in the cache
    if (vb.copy_method === 'download') return undefined;
    if (readEntryMeta(entryPaths(cacheDirOf(config), 'download', entryKey(url)))) return undefined;
    return warn(
      check,
      `the image of disk ${disk.target}, ${displayUrl(url)}, is not in the image cache yet: the first job using it waits for the download`,
      `fetch it now: vmbatch images fetch ${displayUrl(url)}`,
    );
  }
  const path = disk.sourceFile;
  const why = path === undefined ? undefined : unreadable(path);
  if (path === undefined || why === undefined) return undefined;
  if (why === 'does not exist') return failOf(check, new VmbatchError('BASE_IMAGE_MISSING', { target: disk.target, path }));
  return fail(check, `the base image of disk ${disk.target}, ${path}, ${why}`, `make it readable by root (ls -l ${path})`);
}
