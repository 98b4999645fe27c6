import { loadTemplate } from '../domain/parse-template.js';
import { formatError } from '../errors/vmbatch-error.js';

/** `vmbatch validate FILE...`: checks domain templates and reports every problem; exit 1 when one is invalid. */
export async function validateCommand(files: string[]): Promise<number> {
  let failed = 0;
  for (const file of files) {
    try {
      const t = await loadTemplate(file);
      process.stdout.write(`${file}: valid (${t.vb.prepareMethod} on ${t.vb.hypervisor}, ${t.disks.length} disk(s))\n`);
    } catch (error) {
      failed++;
      process.stderr.write(formatError(error) + '\n');
    }
  }
  return failed ? 1 : 0;
}
