import { parseArgs } from 'node:util';
import type { Config } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { VmbatchError, formatError, isVmbatchError } from '../errors/vmbatch-error.js';
import { cacheDirOf } from '../images/cache-entry.js';
import { createLogger } from '../log/logger.js';
import { indexCatalogues, lookupBase, type CatalogueIndex } from '../catalogue/catalogue-index.js';
import type { MetaPackage } from '../catalogue/catalogue-model.js';
import { loadCatalogues } from '../catalogue/load-catalogues.js';
import { resolveRequest } from '../catalogue/resolve-request.js';
import { planRtes } from '../catalogue/rte-plan.js';
import { listRtes, setRteState } from '../catalogue/rte-admin.js';
import { sweepRtes } from '../catalogue/rte-sweep.js';
import { refusedBy, siteRulesOf } from '../catalogue/site-rules.js';
import { summarizeTemplates } from '../domain/select-template.js';
import { catalogueUsage } from './catalogue-usage.js';

/** Exit codes of `vmbatch catalogue`, after the Janitor's. */
export const CatalogueExit = { ok: 0, cannotProvide: 1, error: 2 } as const;

/** `vmbatch catalogue SUBCOMMAND`. */
export async function catalogueCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  // help needs no configuration: it works on a node not set up yet
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`usage:\n${catalogueUsage}`);
    return 0;
  }
  try {
    const config = loadConfig();
    switch (sub) {
      case 'list':
        return await list(config, rest);
      case 'search':
        return await search(config, rest);
      case 'info':
        return await info(config, rest);
      case 'resolve':
        return await resolve(config, rest);
      case 'sweep':
        return await sweep(config, rest);
      case 'setstate':
        return await setstate(config, rest);
      default:
        process.stderr.write(`vmbatch: unknown catalogue command '${sub ?? ''}'\nusage:\n${catalogueUsage}`);
        return CatalogueExit.error;
    }
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    // what cannot be provided is 1 (the Janitor's deploy); a broken catalogue, config or command line is 2
    return isVmbatchError(error) && error.code.startsWith('RTE_') ? CatalogueExit.cannotProvide : CatalogueExit.error;
  }
}

// parseArgs with its complaints (unknown option, missing value) as a usage error
function options(argv: string[]) {
  return usage(() => parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } }));
}

function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new VmbatchError('USAGE_INVALID', { problems: [(error as Error).message] });
  }
}

async function loadIndex(config: Config): Promise<CatalogueIndex> {
  const log = createLogger(config.logFile, 'catalogue');
  return indexCatalogues(await loadCatalogues(config, { deadline: Date.now() + 120_000, log }));
}

const print = (json: boolean | undefined, value: unknown, text: () => string) => process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text());

// The base systems a MetaPackage has instances for.
function basesOf(index: CatalogueIndex, meta: MetaPackage): string[] {
  return [...new Set((index.instancesOf.get(meta) ?? []).map((i) => lookupBase(index, i.basesystem)?.name ?? i.basesystem.text))];
}

async function list(config: Config, argv: string[]): Promise<number> {
  const { values } = options(argv);
  const index = await loadIndex(config);
  const rules = siteRulesOf(config);
  const templates = await summarizeTemplates(config.domainsDir);
  const rtes = [...index.metaByName.values()].filter((m) => !m.virtualMachine);
  const value = {
    catalogues: index.catalogues.map((c) => ({ source: c.source, metaPackages: c.metaPackages.length, instances: c.instances.length, baseSystems: c.baseSystems.length, warnings: c.warnings })),
    shadowed: index.shadowed,
    runtimeEnvironments: rtes.map((m) => ({ name: m.name, bases: basesOf(index, m), refused: refusedBy(m.name, rules.allowRte, rules.denyRte, 'Rte') ?? null })),
    virtualMachines: index.vms.map((vm) => ({
      name: vm.name,
      provides: vm.provides,
      memKb: vm.virtualMachine?.memKb ?? null,
      templates: templates.filter((t) => t.vms.includes(vm.name)).map((t) => t.name),
    })),
    onThisNode: listRtes(cacheDirOf(config)),
  };
  print(values.json, value, () => {
    const lines = [
      'catalogues:',
      ...value.catalogues.map(
        (c) => `  ${c.source}: ${c.metaPackages} MetaPackages, ${c.instances} instances, ${c.baseSystems} base systems${c.warnings.length ? `, ${c.warnings.length} warnings` : ''}`,
      ),
    ];
    lines.push('runtime environments:', ...value.runtimeEnvironments.map((r) => `  ${r.name}  [${r.bases.join(', ')}]${r.refused ? `  refused: ${r.refused}` : ''}`));
    lines.push('virtual machines:', ...value.virtualMachines.map((v) => `  ${v.name}  provides ${v.provides.join(', ') || '-'}  templates: ${v.templates.join(', ') || 'none'}`));
    lines.push('on this node:', ...(value.onThisNode.length ? value.onThisNode.map((r) => `  ${r.name}  ${r.state}  users: ${r.users.join(', ') || '-'}  ${r.url}`) : ['  (no package fetched)']));
    return lines.join('\n') + '\n';
  });
  return CatalogueExit.ok;
}

async function search(config: Config, argv: string[]): Promise<number> {
  const { values, positionals } = options(argv);
  if (positionals.length === 0) throw new VmbatchError('USAGE_INVALID', { problems: ['catalogue search needs at least one WORD'] });
  const index = await loadIndex(config);
  const words = positionals.map((w) => w.toLowerCase());
  const hits = [...index.metaByName.values()].filter((m) => {
    const tags = m.tags.map((t) => (index.byUri.get(t.uri ?? '') as { name?: string } | undefined)?.name ?? t.text);
    const text = [m.name, m.description ?? '', m.label ?? '', ...m.provides, ...tags].join('\n').toLowerCase();
    return words.some((w) => text.includes(w));
  });
  const value = hits.map((m) => ({ name: m.name, description: m.description ?? null, vm: m.virtualMachine !== undefined, bases: basesOf(index, m) }));
  print(values.json, value, () => value.map((h) => `${h.name}${h.vm ? ' (virtual machine)' : ''}  ${h.description ?? ''}\n`).join('') || `no package matches ${positionals.join(' ')}\n`);
  return CatalogueExit.ok;
}

async function info(config: Config, argv: string[]): Promise<number> {
  const { values, positionals } = options(argv);
  if (positionals.length !== 1) throw new VmbatchError('USAGE_INVALID', { problems: ['catalogue info takes one NAME'] });
  const index = await loadIndex(config);
  const name = positionals[0]!;
  const meta = index.metaByName.get(name);
  if (!meta) {
    process.stderr.write(`vmbatch: no package named ${name} in the catalogues (\`vmbatch catalogue search WORD\` finds names)\n`);
    return CatalogueExit.cannotProvide;
  }
  const value = {
    name: meta.name,
    description: meta.description ?? null,
    catalogue: meta.at.source,
    provides: meta.provides,
    depends: meta.depends.map((d) => d.text),
    command: meta.command ?? null,
    virtualMachine: meta.virtualMachine ?? null,
    instances: (index.instancesOf.get(meta) ?? []).map((i) => ({
      type: i.type,
      base: lookupBase(index, i.basesystem)?.name ?? i.basesystem.text,
      urls: 'urls' in i ? i.urls : [],
      depends: i.depends.map((d) => d.text),
      ...(i.type === 'ImagePackage' ? { mountpoint: i.mountpoint ?? null } : {}),
    })),
    onThisNode: listRtes(cacheDirOf(config)).filter((r) => r.name === meta.name),
  };
  print(values.json, value, () =>
    [
      `${value.name}${value.description ? ` — ${value.description}` : ''}`,
      `  catalogue: ${value.catalogue}`,
      ...(value.provides.length ? [`  provides: ${value.provides.join(', ')}`] : []),
      ...(value.depends.length ? [`  depends: ${value.depends.join(', ')}`] : []),
      ...(value.command ? [`  command: ${value.command}`] : []),
      ...value.instances.map((i) => `  ${i.type} for ${i.base}: ${i.urls.join(' ')}${i.depends.length ? `  depends: ${i.depends.join(', ')}` : ''}`),
      ...value.onThisNode.map((r) => `  on this node: ${r.state} since ${r.since}${r.reason ? ` (${r.reason})` : ''}, users: ${r.users.join(', ') || '-'}`),
      '',
    ].join('\n'),
  );
  return CatalogueExit.ok;
}

async function resolve(config: Config, argv: string[]): Promise<number> {
  const { values, positionals } = usage(() => parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, base: { type: 'string' }, domain: { type: 'string' } } }));
  if (positionals.length === 0) throw new VmbatchError('USAGE_INVALID', { problems: ['catalogue resolve needs at least one RTE name'] });
  const index = await loadIndex(config);
  const templates = await summarizeTemplates(config.domainsDir);
  const resolution = resolveRequest(index, { rtes: positionals, base: values.base, domain: values.domain }, { templates, rules: siteRulesOf(config), defaultDomain: config.defaultDomain });
  const plan = planRtes(resolution, { cacheDir: cacheDirOf(config), usedTargets: [] });
  const value = {
    base: resolution.base,
    vm: resolution.vm,
    template: resolution.template,
    packages: resolution.packages.map((p, i) => ({ ...p, ...plan.packages.find((q) => 'instance' in p && q.instance === p.instance), guest: plan.guest[i] })),
  };
  print(values.json, value, () =>
    [
      `base system: ${value.base}`,
      `virtual machine: ${value.vm} (domain template ${value.template})`,
      'packages, in install order:',
      ...value.packages.map(
        (p, i) =>
          `  ${i + 1}. ${p.name}  ${p.kind}` +
          (p.kind === 'command'
            ? `  (the guest must have ${p.command})`
            : `  ${'url' in p ? p.url : ''}${'mirrors' in p && p.mirrors?.length ? ` (mirrors: ${p.mirrors.join(' ')})` : ''}  -> ${p.guest?.kind === 'image' ? `read-only disk at ${p.guest.mount}` : (p.guest?.dir ?? '')}`) +
          (p.neededBy ? `  (needed by ${p.neededBy})` : ''),
      ),
      '',
    ].join('\n'),
  );
  return CatalogueExit.ok;
}

async function sweep(config: Config, argv: string[]): Promise<number> {
  const { values } = usage(() => parseArgs({ args: argv, options: { json: { type: 'boolean' }, force: { type: 'boolean' } } }));
  const actions = await sweepRtes(cacheDirOf(config), {
    expirySeconds: config.catalogue.rteExpirySeconds,
    force: values.force === true,
    log: createLogger(config.logFile, 'catalogue'),
    // use records of this node's jobs whose directory is gone are over
    stateDir: config.stateDir,
  });
  print(values.json, actions, () => actions.map((a) => `${a.action}  ${a.name}  ${a.url}  (${a.reason})\n`).join('') || 'nothing to sweep\n');
  // the Janitor's sweep always exits 0
  return CatalogueExit.ok;
}

async function setstate(config: Config, argv: string[]): Promise<number> {
  const { positionals } = options(argv);
  const [state, ...names] = positionals;
  if (!state || names.length === 0) throw new VmbatchError('USAGE_INVALID', { problems: ['catalogue setstate takes a STATE and at least one NAME'] });
  let refused = 0;
  for (const name of names) {
    for (const c of await setRteState(cacheDirOf(config), name, state)) {
      if (c.error) {
        refused++;
        process.stderr.write(formatError(c.error) + '\n');
      } else process.stdout.write(`${c.name}  ${c.from} -> ${c.to}  ${c.url}\n`);
    }
  }
  // the Janitor's setstate: 1 when a state could not be changed
  return refused ? CatalogueExit.cannotProvide : CatalogueExit.ok;
}
