// Runs the uvu suites compiled to dist/test and ends with the line CI reads: "N passed, N failed".
// --unit runs only the suites that need no libvirtd, guest or root (test/e2e and test/torque are skipped).
import { spawnSync } from 'node:child_process';

const unit = process.argv.includes('--unit');
const pattern = unit ? '^(?!e2e|torque).*\\.test\\.js$' : '.*\\.test\\.js$';
const run = spawnSync(process.execPath, ['node_modules/uvu/bin.js', 'dist/test', pattern], {
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
process.stdout.write(run.stdout ?? '');
const count = (label) => Number((new RegExp(`${label}:\\s+(\\d+)`).exec(run.stdout ?? '') ?? [])[1] ?? 0);
const total = count('Total');
const passed = count('Passed');
const skipped = count('Skipped');
const failed = Math.max(total - passed - skipped, run.status === 0 ? 0 : 1);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(run.status === 0 && failed === 0 && total > 0 ? 0 : 1);
