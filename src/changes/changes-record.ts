import { join } from 'node:path';
import { z } from 'zod';
import { changesNameSchema } from '../job/resources.js';

/** What a saved layer was made from (NAME.json next to NAME.qcow2, the submitter's file): checked before a job boots from it. */
export const changesRecordSchema = z.object({
  version: z.literal(1),
  name: changesNameSchema,
  /** the template whose job saved it, and the disk (its target) the layer is of */
  template: z.string(),
  target: z.string().regex(/^[A-Za-z0-9]+$/),
  /** the base image the layer lies over: its path then, and its sha256 (what must match) */
  base: z.object({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  createdAt: z.string(),
  jobId: z.string(),
  /** the layer file's size in bytes */
  sizeBytes: z.number().int().nonnegative(),
});
/** A saved layer's record. */
export type ChangesRecord = z.infer<typeof changesRecordSchema>;

/** Where a submitter's layer NAME lives: DIR (below their home), NAME.qcow2 and NAME.json. */
export function changesFiles(home: string, dir: string, name: string): { dir: string; layer: string; record: string } {
  const where = join(home, dir);
  return { dir: where, layer: join(where, `${name}.qcow2`), record: join(where, `${name}.json`) };
}
