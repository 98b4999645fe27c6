import { homedir } from 'node:os';
import { loadConfig } from '../config/load.js';
import { parseSubcommandArgs } from './subcommand-args.js';
import { VmbatchError, formatError } from '../errors/vmbatch-error.js';
import { changesNameSchema } from '../job/resources.js';
import { listChanges, removeChanges, type ChangesListing } from '../changes/changes-admin.js';
import { changesFiles } from '../changes/changes-record.js';
import { changesUsage } from './changes-usage.js';

/** `vmbatch changes SUBCOMMAND`: a submitter's own saved changes (run as themselves). */
export async function changesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`usage:\n${changesUsage}`);
    return 0;
  }
  try {
    const config = loadConfig();
    const home = homedir();
    const dir = config.changes.dir;
    switch (sub) {
      case 'list': {
        const { values } = parseSubcommandArgs(rest, { json: { type: 'boolean' } }, 0, 'NAME');
        const listing = listChanges(home, dir);
        if (values.json) {
          process.stdout.write(`${JSON.stringify(listing, null, 2)}\n`);
          return 0;
        }
        if (listing.length === 0) process.stdout.write(`no saved changes in ${changesFiles(home, dir, 'x').dir} (a job submitted with -l other=vbsavechanges=NAME saves them)\n`);
        for (const l of listing)
          process.stdout.write(
            `${l.name}  ${sizeText(l)}  ${l.record ? `${l.record.template}  base ${l.record.base.path}  saved ${l.record.createdAt}` : 'no record: no job boots from it (changes rm NAME removes it)'}\n`,
          );
        return 0;
      }
      case 'info': {
        const name = nameOf(parseSubcommandArgs(rest, {}, 1, 'NAME').positionals[0]!);
        const l = listChanges(home, dir).find((c) => c.name === name);
        if (!l) throw new VmbatchError('CHANGES_NOT_FOUND', { name, file: changesFiles(home, dir, name).layer, reason: 'no such file' });
        const r = l.record;
        const lines = [`name:      ${l.name}`, `layer:     ${l.layer} (${sizeText(l)})`];
        if (r) lines.push(`template:  ${r.template}`, `disk:      ${r.target}`, `base:      ${r.base.path}`, `sha256:    ${r.base.sha256}`, `saved:     ${r.createdAt} by job ${r.jobId}`);
        else lines.push('record:    missing or damaged: no job boots from it');
        process.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      }
      case 'rm': {
        const name = nameOf(parseSubcommandArgs(rest, {}, 1, 'NAME').positionals[0]!);
        if (!removeChanges(home, dir, name)) throw new VmbatchError('CHANGES_NOT_FOUND', { name, file: changesFiles(home, dir, name).layer, reason: 'no such file' });
        process.stdout.write(`removed ${changesFiles(home, dir, name).layer}\n`);
        return 0;
      }
      default:
        throw new VmbatchError('USAGE_INVALID', { problems: [sub === undefined ? 'changes needs a subcommand: list, info or rm' : `unknown changes subcommand '${sub}': list, info or rm`] });
    }
  } catch (error) {
    process.stderr.write(`${formatError(error)}\n`);
    return 1;
  }
}

function sizeText(l: ChangesListing): string {
  return l.sizeBytes === undefined ? 'layer missing' : `${(l.sizeBytes / 1048576).toFixed(1)} MiB`;
}

// A layer's name as the job options take it.
function nameOf(value: string): string {
  const parsed = changesNameSchema.safeParse(value);
  if (!parsed.success) throw new VmbatchError('USAGE_INVALID', { problems: [`NAME ${parsed.error.issues[0]!.message}, not '${value}'`] });
  return parsed.data;
}
