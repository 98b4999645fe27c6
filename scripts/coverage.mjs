// Coverage for scripts/run-tests.mjs --coverage (make coverage; CI sets VMBATCH_COVERAGE=1):
// V8's own counts (NODE_V8_COVERAGE) of the test run, mapped back to src/ by c8 through dist's
// source maps, printed as one line per folder of src/ and the total.
// What counts: the code of the checkout's dist/src that the test processes run, and that of the
// node processes they start with their environment (NODE_V8_COVERAGE is inherited): the CLI as
// the tests run it. What does not: processes started with a cleared environment (the Torque hooks
// pbs-mom.ts runs, as pbs_mom would), the installed package's bundle (VMBATCH_UNDER_TEST=package,
// as CI tests: minified, and outside the checkout, so its children are not asked to count at
// all), and code running in the guests.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

// Where the report goes (coverage/coverage-summary.json, coverage/lcov.info).
export const reportDir = resolve('coverage');

/**
 * What makes a test pass collect coverage: its environment, the node flags to put before the
 * test runner, and the raw directory. The directory is in /tmp and open to all (sticky, like
 * /tmp): node processes the tests start as a submitter write their counts there too, and one that
 * cannot write says so on its stderr, which tests read.
 */
export function startCoverage(underTestPackage) {
  const dir = mkdtempSync(join(tmpdir(), 'vmbatch-coverage-'));
  chmodSync(dir, 0o1777);
  // the package's processes run its bundle: their counts would be large and map to nothing here
  const nodeFlags = underTestPackage ? ['--require', resolve('scripts/coverage-own-process.cjs')] : [];
  return { dir, env: { ...process.env, NODE_V8_COVERAGE: dir }, nodeFlags };
}

/** Turns the raw counts into the report and prints the per-folder lines; removes the raw directory. */
export function reportCoverage(dir) {
  rmSync(reportDir, { recursive: true, force: true });
  mkdirSync(reportDir, { recursive: true });
  const c8 = resolve('node_modules/c8/bin/c8.js');
  // --all: files no test loaded count as 0 %, so a folder's figure is of all its code
  const argv = [c8, 'report', '--temp-directory', dir, '--reports-dir', reportDir, '--reporter', 'json-summary', '--reporter', 'lcovonly', '--all', '--src', 'dist/src', '--include', 'dist/src/**'];
  try {
    execFileSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
    printSummary(JSON.parse(readFileSync(join(reportDir, 'coverage-summary.json'), 'utf8')));
  } catch (error) {
    // no floor is enforced: a report that failed is said, and the run's verdict stays the tests'
    console.log(`\ncoverage: no report (${error.message.split('\n')[0]})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// One line per folder of src/ (lines and branches covered), then the total.
function printSummary(summary) {
  const folders = new Map();
  const add = (key, file) => {
    const sum = folders.get(key) ?? { lines: [0, 0], branches: [0, 0] };
    for (const kind of ['lines', 'branches']) {
      sum[kind][0] += file[kind].covered;
      sum[kind][1] += file[kind].total;
    }
    folders.set(key, sum);
  };
  for (const [file, figures] of Object.entries(summary)) {
    if (file === 'total') continue;
    const parts = relative(process.cwd(), file).split('/');
    add(parts.length > 2 ? parts.slice(0, 2).join('/') : parts[0], figures);
  }
  const pct = ([covered, total]) => (total ? ((100 * covered) / total).toFixed(1) : '100.0').padStart(6);
  console.log('\ncoverage (lines, branches) of src/ by folder:');
  for (const [folder, sum] of [...folders].sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${folder.padEnd(20)} ${pct(sum.lines)} % ${pct(sum.branches)} %`);
  const total = summary.total;
  console.log(`  ${'total'.padEnd(20)} ${pct([total.lines.covered, total.lines.total])} % ${pct([total.branches.covered, total.branches.total])} %  (${relative(process.cwd(), reportDir)}/lcov.info)`);
}
