// Runs the uvu suites compiled to dist/test and ends with the line CI reads: "N passed, N failed".
// --unit runs only the suites that need no libvirtd, guest or root (test/e2e and test/torque are skipped).
// VMBATCH_NODE18_PASS=1 (CI) adds a second pass under Debian 12's own nodejs 18
// (scripts/debian-node18.sh): the unit suites and a whole Torque job, the hooks run by node 18.
// uvu's output is passed through as it comes (a run takes minutes: CI shows progress), each
// suite's header with the minutes:seconds since the pass began, and kept for the counts.
// --coverage (or VMBATCH_COVERAGE=1, as CI sets it) collects coverage in the same run (the first
// pass; scripts/coverage.mjs says what counts) and prints it by folder of src/ before that line.
import { spawn } from 'node:child_process';
import { reportCoverage, startCoverage } from './coverage.mjs';

const unit = process.argv.includes('--unit');
const coverage = process.argv.includes('--coverage') || process.env.VMBATCH_COVERAGE === '1' ? startCoverage(process.env.VMBATCH_UNDER_TEST === 'package') : undefined;
const passes = [
  {
    label: 'node ' + process.version,
    argv: [process.execPath, ...(coverage?.nodeFlags ?? []), 'node_modules/uvu/bin.js', 'dist/test', unit ? '^(?!e2e|torque).*\\.test\\.js$' : '.*\\.test\\.js$'],
    env: coverage?.env,
  },
];
if (process.env.VMBATCH_NODE18_PASS === '1') {
  const pattern = unit ? '^(?!e2e|torque).*\\.test\\.js$' : '^((?!e2e|torque).*|e2e/job)\\.test\\.js$';
  passes.push({ label: "Debian 12's nodejs 18", argv: ['bash', 'scripts/debian-node18.sh', 'sh', '-c', 'exec "$VMBATCH_NODE18" node_modules/uvu/bin.js dist/test "$0"', pattern] });
}

const clock = (ms) => `${String(Math.floor(ms / 60000)).padStart(2, '0')}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}`;
const count = (output, label) => Number((new RegExp(`${label}:\\s+(\\d+)`).exec(output) ?? [])[1] ?? 0);
let passed = 0;
let failed = 0;
let skipped = 0;
let ok = true;
for (const pass of passes) {
  if (passes.length > 1) console.log(`\n== ${pass.label}: ${pass.argv.at(-1)}`);
  const child = spawn(pass.argv[0], pass.argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env: pass.env ?? process.env });
  let output = '';
  let pending = '';
  const started = Date.now();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    output += chunk;
    // each suite's header line gets the time since the pass began, so a CI log shows what is slow
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) process.stdout.write(`${line.includes('.test.js\u001b[22m') ? `[${clock(Date.now() - started)}] ` : ''}${line}\n`);
  });
  child.stdout.on('end', () => pending && process.stdout.write(pending));
  const status = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const total = count(output, 'Total');
  passed += count(output, 'Passed');
  skipped += count(output, 'Skipped');
  const passFailed = Math.max(total - count(output, 'Passed') - count(output, 'Skipped'), status === 0 ? 0 : 1);
  failed += passFailed;
  ok &&= status === 0 && passFailed === 0 && total > 0;
}
if (coverage) reportCoverage(coverage.dir);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(ok ? 0 : 1);
