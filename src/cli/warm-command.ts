import { loadConfig } from '../config/load.js';
import { parseSubcommandArgs } from './subcommand-args.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { createLogger } from '../log/logger.js';
import { buildWarmState } from '../warm/build-warm.js';
import { dropWarmStates, listWarmStates, templateFileOf } from '../warm/warm-admin.js';
import { warmUsage } from './warm-usage.js';
import { anotherFill, fillPool, poolTemplates } from '../warm/fill-pool.js';
import { listPoolGuests, poolGuestLine } from '../warm/pool-guest.js';
import { retireWaiting } from '../warm/retire-pool.js';

/** `vmbatch warm SUBCOMMAND`: the site admin's saved states for warm start. */
export async function warmCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`usage:\n${warmUsage}`);
    return 0;
  }
  try {
    const config = loadConfig();
    switch (sub) {
      case 'build': {
        const { values, positionals } = parseSubcommandArgs(rest, { force: { type: 'boolean' }, vcpus: { type: 'string' }, memory: { type: 'string' } }, 1, 'TEMPLATE (or KEY)');
        const templateFile = templateFileOf(config.domainsDir, positionals[0]!);
        const size = { vcpus: wholeNumber('--vcpus', values.vcpus), memoryMiB: wholeNumber('--memory', values.memory) };
        const result = await buildWarmState(config, templateFile, { force: values.force === true, log: createLogger(config.logFile, 'warm'), ...size });
        const m = result.meta;
        process.stdout.write(
          result.status === 'current'
            ? `${templateFile}: the saved state ${result.dir} is current (use --force to make it again)\n`
            : `${templateFile}: saved in ${result.dir}: booted in ${m.bootSeconds.toFixed(1)} s, state ${mib(m.stateBytes)} MiB, ${m.vcpus} vCPU(s), ${m.memoryMiB} MiB\n`,
        );
        return 0;
      }
      case 'list': {
        const { values } = parseSubcommandArgs(rest, { json: { type: 'boolean' } }, 0, 'TEMPLATE (or KEY)');
        const listing = listWarmStates(config.stateDir);
        const pool = listPoolGuests(config.stateDir).map(poolGuestLine);
        if (values.json) {
          process.stdout.write(
            `${JSON.stringify(
              listing.map((l) => ({ ...l, pool: pool.filter((g) => l.meta && g.key === l.meta.key) })),
              null,
              2,
            )}\n`,
          );
          return 0;
        }
        if (listing.length === 0) process.stdout.write('no saved states (vmbatch warm build TEMPLATE makes one)\n');
        for (const l of listing) {
          const m = l.meta;
          process.stdout.write(
            m ? `${m.key.slice(0, 16)}  ${m.template}  ${mib(m.stateBytes)} MiB  ${m.vcpus} vCPU(s) ${m.memoryMiB} MiB  built ${m.createdAt}  ${l.status}\n` : `${l.dir}  ${l.status}\n`,
          );
        }
        for (const g of pool) process.stdout.write(`${g.id}  ${g.template}  ${g.status}\n`);
        return 0;
      }
      case 'drop': {
        const { positionals } = parseSubcommandArgs(rest, {}, 1, 'TEMPLATE (or KEY)');
        const what = positionals[0]!;
        const match = /^[0-9a-f]{16,64}$/.test(what) ? { key: what } : { templateFile: templateFileOf(config.domainsDir, what) };
        const dropped = await dropWarmStates(config.stateDir, match);
        // the waiting guests of a dropped state or of the template go too (a job's guest runs on)
        const names = new Set(dropped.map((dir) => dir.slice(dir.lastIndexOf('/') + 1)));
        const ended = await retireWaiting(config, ({ record: r }) => names.has(r.key.slice(0, 16)) || (match.key ? r.key.startsWith(match.key) : r.template === match.templateFile));
        if (dropped.length === 0 && ended.length === 0) throw new VmbatchError('WARM_NOT_FOUND', { what: match.key ?? match.templateFile });
        for (const dir of dropped) process.stdout.write(`dropped ${dir}\n`);
        for (const id of ended) process.stdout.write(`ended waiting guest ${id}\n`);
        return 0;
      }
      case 'fill': {
        const { positionals } = parseSubcommandArgs(rest, {}, -1, 'TEMPLATE (or KEY)');
        const log = createLogger(config.logFile, 'warm');
        const templates = positionals.length ? positionals.map((t) => templateFileOf(config.domainsDir, t)) : await poolTemplates(config.domainsDir);
        if (templates.length === 0) process.stdout.write(`no template in ${config.domainsDir} has a pool (<vbwarmstart pool='N'/>)\n`);
        let status = 0;
        for (const templateFile of templates) {
          const fill = await fillPool(config, templateFile, log);
          const did = [
            ...(fill.built ? ['built its saved state'] : []),
            ...(fill.made.length ? [`started ${fill.made.join(', ')}`] : []),
            ...(fill.retired.length ? [`ended ${fill.retired.join(', ')}`] : []),
          ];
          if (fill.skipped) log.info('warm fill skipped', { template: templateFile, reason: fill.skipped });
          process.stdout.write(
            fill.skipped
              ? `${templateFile}: no guest started: ${fill.skipped}${did.length ? ` (${did.join('; ')})` : ''}\n`
              : `${templateFile}: ${fill.waiting} of ${fill.size} guest(s) waiting${did.length ? ` (${did.join('; ')})` : ''}\n`,
          );
          if (fill.skipped && fill.skipped !== anotherFill) status = 1;
        }
        return status;
      }
      default:
        throw new VmbatchError('USAGE_INVALID', {
          problems: [sub === undefined ? 'warm needs a subcommand: build, fill, list or drop' : `unknown warm subcommand '${sub}': build, fill, list or drop`],
        });
    }
  } catch (error) {
    process.stderr.write(`${formatError(error)}\n`);
    return 1;
  }
}

// An option's whole number of at least 1 (absent: undefined).
function wholeNumber(option: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,6}$/.test(value)) throw new VmbatchError('USAGE_INVALID', { problems: [`${option} must be a whole number of at least 1, not '${String(value)}'`] });
  return Number(value);
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}
