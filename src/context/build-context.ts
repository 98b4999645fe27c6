import { mkdirSync } from 'node:fs';
import type { ProloguePlan } from '../plan/prologue-plan.js';
import { buildContextTar, buildIso, stageContext } from './build-iso.js';
import type { IsoLayout } from './iso-layout.js';
import { writeDiskContext } from './disk-context.js';

/** The context in the form the method needs: a CDROM volume, an archive for the root login, or files written into the (per-job) disk's partitions. */
export async function buildContext(plan: Pick<ProloguePlan, 'paths' | 'method' | 'diskContext'>, layout: IsoLayout): Promise<void> {
  const staging = plan.paths.contextStaging;
  if (plan.method === 'ROOTSSH') return buildContextTar(layout, plan.paths.contextTar, staging);
  if (plan.method === 'CDROM') return buildIso(layout, plan.paths.isoFile, staging);
  const tree = `${staging}/context`;
  mkdirSync(tree, { recursive: true, mode: 0o700 });
  await stageContext(layout, tree);
  const job = layout.files.find((f) => f.path.startsWith('job/'))!;
  await writeDiskContext(plan.diskContext, { contextTree: tree, jobScript: { name: job.path.slice(4), content: job.content }, scratch: staging });
}
