import type { Config } from '../config/schema.js';
import { summarizeTemplates } from '../domain/select-template.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import type { JobRequest } from '../job/resources.js';
import type { Logger } from '../log/logger.js';
import { indexCatalogues } from './catalogue-index.js';
import { loadCatalogues } from './load-catalogues.js';
import { resolveRequest, type RteResolution } from './resolve-request.js';
import { siteRulesOf } from './site-rules.js';

/**
 * Resolves the runtime environments a job requests (vbrte, vbbase) against the site's
 * catalogues and domain templates; undefined when the job requests none.
 */
export async function resolveJobRtes(config: Config, request: JobRequest, opts: { deadline: number; log: Logger }): Promise<RteResolution | undefined> {
  const rtes = request.vbrte ?? [];
  if (rtes.length === 0) {
    if (request.vbbase !== undefined) throw new VmbatchError('RESOURCE_INVALID', { problems: ['vbbase chooses the base system of runtime environments and needs vbrte=NAME[+NAME...]'] });
    return undefined;
  }
  if (config.catalogue.sources.length === 0) throw new VmbatchError('CATALOGUE_NONE', { rtes });
  const index = indexCatalogues(await loadCatalogues(config, opts));
  const templates = await summarizeTemplates(config.domainsDir, opts.log);
  const resolution = resolveRequest(index, { rtes, base: request.vbbase, domain: request.vbdomain }, { templates, rules: siteRulesOf(config), defaultDomain: config.defaultDomain });
  opts.log.info('rtes resolved', { base: resolution.base, vm: resolution.vm, template: resolution.template, packages: resolution.packages.map((p) => p.name).join(' ') });
  return resolution;
}
