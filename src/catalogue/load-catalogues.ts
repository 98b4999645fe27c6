import type { Config } from '../config/schema.js';
import { cacheDirOf } from '../images/cache-entry.js';
import type { Logger } from '../log/logger.js';
import type { Catalogue } from './catalogue-model.js';
import { fetchCatalogueText, type CatalogueText } from './catalogue-source.js';
import { loadParsedCatalogue } from './parsed-catalogue-cache.js';

/**
 * Reads every catalogue of catalogue.sources, in the configured (priority) order. Remote ones
 * are fetched (or refreshed) side by side, so slow servers cost the budget once, not once each;
 * the first source that fails, in order, raises its error, which names the source. Each text's
 * parse is kept by its digest (parsed-catalogue-cache.ts), so only the first job after a change parses it.
 */
export async function loadCatalogues(config: Config, opts: { deadline: number; log: Logger }): Promise<Catalogue[]> {
  const fetchOptions = {
    cacheDir: cacheDirOf(config),
    refreshSeconds: config.catalogue.refreshSeconds,
    stallTimeoutMs: config.images.stallTimeoutSeconds * 1000,
    maxRedirects: config.images.maxRedirects,
    caFile: config.images.caFile,
    deadline: opts.deadline,
    log: opts.log,
  };
  const texts = await Promise.allSettled(config.catalogue.sources.map((source) => fetchCatalogueText(source, fetchOptions)));
  return texts.map((settled, i) => {
    const source = config.catalogue.sources[i]!;
    if (settled.status === 'rejected') throw logged(settled.reason, source, opts.log);
    try {
      const started = performance.now();
      // a fresh download was already read to check it: that parse is kept, not made again
      const { catalogue, cached } = loadParsedCatalogue(settled.value.text, settled.value.source, { cacheDir: fetchOptions.cacheDir, log: opts.log, parsed: settled.value.catalogue });
      const ms = Math.round((performance.now() - started) * 10) / 10;
      // parse= tells a slow prologue's log whether it paid for the parse (parsed) or read the kept one (cached)
      opts.log.info('catalogue loaded', { source, from: settled.value.from, parse: cached ? 'cached' : 'parsed', ms, metaPackages: catalogue.metaPackages.length });
      return catalogue;
    } catch (error) {
      throw logged(error, source, opts.log, settled.value);
    }
  });
}

// The log says which source failed and whether the text was a cached copy; the error itself names the source.
function logged(error: unknown, source: string, log: Logger, text?: CatalogueText): unknown {
  const code = (error as { code?: unknown }).code;
  log.error('catalogue unusable', { source, from: text?.from, fetchedAt: text?.fetchedAt, code: typeof code === 'string' ? code : undefined });
  return error;
}
