import { readFileSync } from 'node:fs';

/** A small file's trimmed text, or undefined when it cannot be read (absent, removed meanwhile). */
export function readTrimmedText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
