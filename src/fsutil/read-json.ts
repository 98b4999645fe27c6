import { readFileSync } from 'node:fs';
import type { z } from 'zod';

/** A JSON record validated by `schema`; undefined when the file is absent or damaged (which counts as absent). */
export function readJsonRecord<S extends z.ZodTypeAny>(file: string, schema: S): z.infer<S> | undefined {
  try {
    return schema.parse(JSON.parse(readFileSync(file, 'utf8'))) as z.infer<S>;
  } catch {
    return undefined;
  }
}
