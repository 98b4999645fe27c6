// The measuring and reporting helpers the bench scripts share.

/** The median of some figures (NaN for none). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** How long a step takes, in milliseconds. */
export async function ms(step: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await step();
  return performance.now() - started;
}

/** One line of a bench's summary: the figure, what was measured, the target and whether it was met. */
export interface SummaryRow {
  figure: string;
  value: string;
  target: string;
  /** undefined: a reference figure with no target */
  met: boolean | undefined;
}

/** Prints the summary table that ends every bench. */
export function printSummary(title: string, rows: SummaryRow[]): void {
  console.log(`\n${title}`);
  const w = Math.max(...rows.map((r) => r.figure.length));
  const wv = Math.max(...rows.map((r) => r.value.length));
  const wt = Math.max(...rows.map((r) => r.target.length));
  console.log(`   ${'figure'.padEnd(w)}  ${'measured'.padEnd(wv)}  ${'target'.padEnd(wt)}  verdict`);
  for (const r of rows) console.log(`   ${r.figure.padEnd(w)}  ${r.value.padEnd(wv)}  ${r.target.padEnd(wt)}  ${r.met === undefined ? '-' : r.met ? 'met' : 'NOT met'}`);
}
