import type { CheckResult } from './check-result.js';

// Continuation lines (a hint, the bullets of a multi-line message) line up under the message.
const indent = '     ';

/** The text form: `STATUS CHECK: message` per result, an indented `hint:` line under each warn and fail, and a closing count. */
export function formatResults(results: readonly CheckResult[]): string {
  const lines = results.map((r) => {
    const head = `${r.status.padEnd(4)} ${r.check}: ${r.message.split('\n').join(`\n${indent}`)}`;
    return r.hint === undefined ? head : `${head}\n${indent}hint: ${r.hint}`;
  });
  const count = (status: CheckResult['status']) => results.filter((r) => r.status === status).length;
  return `${lines.join('\n')}\n${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail\n`;
}

/** The JSON form: an array of {check, status, message, hint?}. */
export function formatResultsJson(results: readonly CheckResult[]): string {
  return (
    JSON.stringify(
      results.map(({ check, status, message, hint }) => ({ check, status, message, ...(hint === undefined ? {} : { hint }) })),
      null,
      2,
    ) + '\n'
  );
}
