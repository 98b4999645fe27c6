/**
 * The known name closest to a misspelt one, or undefined when none is close: the same name
 * written otherwise (case, '-' or '_' dropped), one of a known name's '_'-separated parts
 * (`method` for `copy_method`), or a few letters off (edit distance 1 for short names, 2 else).
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const limit = name.length <= 4 ? 1 : 2;
  let best: { name: string; score: number } | undefined;
  for (const candidate of known) {
    if (candidate === name) continue;
    const score =
      squash(candidate) === squash(name)
        ? 0
        : candidate.split('_').includes(name.toLowerCase())
          ? 1
          : editDistance(name.toLowerCase(), candidate.toLowerCase()) <= limit
            ? 1 + editDistance(name.toLowerCase(), candidate.toLowerCase())
            : undefined;
    if (score !== undefined && (!best || score < best.score)) best = { name: candidate, score };
  }
  return best?.name;
}

// Levenshtein distance; names are short (attribute and tag names), so O(n·m) is nothing.
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
