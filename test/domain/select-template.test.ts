// What the catalogue sees of the templates: the most memory a template's guests may have.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { summarizeTemplates } from '../../src/domain/select-template.js';
import { domainsDir } from '../helpers/paths.js';

test("a catalogue VM must fit the template's <vbsize maxmemory>, else the larger of its <memory> and the node's", async () => {
  const dir = mkdtempSync('/tmp/vmbatch-summary-');
  try {
    const shipped = readFileSync(join(domainsDir, 'testguest.xml'), 'utf8');
    writeFileSync(join(dir, 'sized.xml'), shipped);
    writeFileSync(join(dir, 'open.xml'), shipped.replace(/\s*<vbsize[^>]*\/>/, ''));
    const summary = await summarizeTemplates(dir);
    assert.equal(summary, [
      { name: 'open', vms: ['VMLinux/vmbatch-test'], memoryKiB: Math.floor(totalmem() / 1048576) * 1024 },
      { name: 'sized', vms: ['VMLinux/vmbatch-test'], memoryKiB: 2048 * 1024 },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
