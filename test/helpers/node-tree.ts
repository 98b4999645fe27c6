import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { domainsDir as shippedDomains, testGuestDir } from './paths.js';

/** A test node's own directories: its root, state, templates and log. */
export interface NodeTree {
  root: string;
  stateDir: string;
  domainsDir: string;
  logFile: string;
}

/**
 * Makes a test node's tree below /tmp (PREFIX + random): a world-searchable root, a state
 * directory, and the templates: the shipped test guest's and `domains` (name → XML).
 */
export function makeNodeTree(prefix: string, domains: Record<string, string> = {}): NodeTree {
  const root = mkdtempSync(prefix);
  chmodSync(root, 0o755);
  const stateDir = join(root, 'state');
  mkdirSync(stateDir, { mode: 0o755 });
  const domainsDir = join(root, 'domains');
  mkdirSync(domainsDir);
  // the templates name the test guest's files; VMBATCH_TEST_GUEST moves them (helpers/paths.ts)
  const atGuest = (xml: string) => xml.replaceAll('/var/lib/vmbatch/guest/', `${testGuestDir}/`);
  writeFileSync(join(domainsDir, 'testguest.xml'), atGuest(readFileSync(join(shippedDomains, 'testguest.xml'), 'utf8')));
  for (const [name, xml] of Object.entries(domains)) writeFileSync(join(domainsDir, `${name}.xml`), atGuest(xml));
  return { root, stateDir, domainsDir, logFile: join(root, 'vmbatch.log') };
}
