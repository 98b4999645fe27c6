/** How much of a text an error or report quotes: its last lines, and at most this many characters. */
export interface TailLimits {
  lines: number;
  chars: number;
}

// a terminal's escape sequence (ESC [ ... letter), which a guest may write to its console
// eslint-disable-next-line no-control-regex -- finding the escape character is the point
const escapeSequence = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** A line a guest wrote, made safe to print: escape sequences and every other control or non-ASCII byte removed. */
export function printableLine(line: string): string {
  return line
    .replace(escapeSequence, '')
    .replace(/[^\x20-\x7e\t]/g, '')
    .trimEnd();
}

/**
 * The last lines of a text a guest wrote (its console, a root prolog's stderr), made safe to
 * print on a submitter's or admin's terminal: escape sequences and every other control or
 * non-ASCII byte removed, empty lines dropped, within `limits`. `cutAtFront`: the text is the
 * end of a longer one, so its first line is a fragment and is dropped unless it is all there is.
 */
export function printableTail(text: string, limits: TailLimits, cutAtFront: boolean): string {
  const lines = text.split(/\r?\n/).map(printableLine);
  if (cutAtFront && lines.length > 1) lines.shift();
  let quoted = lines
    .filter((l) => l.trim() !== '')
    .slice(-limits.lines)
    .join('\n');
  if (quoted.length > limits.chars) quoted = '...' + quoted.slice(-limits.chars);
  return quoted;
}
