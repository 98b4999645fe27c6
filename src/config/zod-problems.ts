import type { ZodError } from 'zod';

/** Lists every problem of a zod error as `path: message`, so all are reported at once. */
export function zodProblems(error: ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown setting(s) ${issue.keys.join(', ')}` : issue.message;
    return path ? `${path}: ${message}` : message;
  });
}
