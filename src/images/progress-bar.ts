/** Draws a download's progress on a terminal: `label [#####.....]  45%  123/456 MiB  210 MiB/s`. */
export interface ProgressBar {
  update(label: string, got: number, total: number | undefined): void;
  finish(): void;
}

const MiB = 1048576;

/** A progress bar on `stream` (a TTY), redrawn at most ten times a second. */
export function createProgressBar(stream: NodeJS.WriteStream, now: () => number = Date.now): ProgressBar {
  const started = now();
  let lastDraw = 0;
  let drawn = false;
  let last: { label: string; got: number; total: number | undefined } | undefined;
  const draw = () => {
    if (!last) return;
    const { label, got, total } = last;
    const seconds = Math.max(0.001, (now() - started) / 1000);
    const rate = `${(got / MiB / seconds).toFixed(1)} MiB/s`;
    const width = 30;
    const line =
      total === undefined
        ? `${label}  ${(got / MiB).toFixed(1)} MiB  ${rate}`
        : `${label} [${'#'.repeat(Math.round((got / total) * width)).padEnd(width, '.')}] ${String(Math.floor((got / total) * 100)).padStart(3)}%  ${(got / MiB).toFixed(1)}/${(total / MiB).toFixed(1)} MiB  ${rate}`;
    stream.write(`\r${line}\x1b[K`);
    drawn = true;
  };
  return {
    update(label, got, total) {
      last = { label, got, total };
      if (now() - lastDraw >= 100 || got === total) {
        lastDraw = now();
        draw();
      }
    },
    finish() {
      draw();
      if (drawn) stream.write('\n');
    },
  };
}
