// The two measuring helpers every bench script uses.

/** The median of some figures (NaN for none). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** How long a step takes, in milliseconds. */
export async function ms(step: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await step();
  return performance.now() - started;
}
