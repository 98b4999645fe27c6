// Runs the uvu suites compiled to dist/test and ends with the line CI reads: "N passed, N failed".
// --unit runs only the suites that need no libvirtd, guest or root (test/e2e and test/torque are skipped).
// uvu's output is passed through as it comes (a run takes minutes: CI shows progress) and kept
// for the counts.
import { spawn } from 'node:child_process';

const unit = process.argv.includes('--unit');
const pattern = unit ? '^(?!e2e|torque).*\\.test\\.js$' : '.*\\.test\\.js$';
const child = spawn(process.execPath, ['node_modules/uvu/bin.js', 'dist/test', pattern], { stdio: ['ignore', 'pipe', 'inherit'] });
let output = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (chunk) => {
  output += chunk;
  process.stdout.write(chunk);
});
const status = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
const count = (label) => Number((new RegExp(`${label}:\\s+(\\d+)`).exec(output) ?? [])[1] ?? 0);
const total = count('Total');
const passed = count('Passed');
const skipped = count('Skipped');
const failed = Math.max(total - passed - skipped, status === 0 ? 0 : 1);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status === 0 && failed === 0 && total > 0 ? 0 : 1);
