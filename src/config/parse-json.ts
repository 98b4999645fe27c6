import type { z } from 'zod';
import { zodProblems } from './zod-problems.js';

/** JSON text validated by a schema: the data, or every problem (bad JSON, each failing setting). */
export function parseJsonWith<S extends z.ZodTypeAny>(text: string, schema: S): { data: z.infer<S> } | { problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { problems: [`not valid JSON: ${(error as Error).message}`] };
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? { data: parsed.data as z.infer<S> } : { problems: zodProblems(parsed.error) };
}
