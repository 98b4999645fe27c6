/** Quotes one word for a POSIX shell: safe for any byte string without NUL. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error('a shell word cannot contain NUL');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Renders `NAME=value` lines that a POSIX shell can source safely. */
export function shellAssignments(vars: Record<string, string | number>): string {
  return Object.entries(vars)
    .map(([name, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a shell variable name: ${name}`);
      return `${name}=${shellQuote(String(value))}\n`;
    })
    .join('');
}
