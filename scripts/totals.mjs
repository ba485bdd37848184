#!/usr/bin/env node
// Print the closing line of a test run from vitest's JSON report:
//   node scripts/totals.mjs REPORT.json   ->   "N passed, M failed[, K skipped]"
// "failed" also counts test files that failed without a failed test (a file that did not
// load, an error in a hook), so a red run never reads "0 failed".
// Exit status: 0 when tests ran and none failed; 1 when some failed; 2 when the report is
// missing or unreadable (nothing printed on stdout); 3 when no test ran.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/totals.mjs REPORT.json');
  process.exit(2);
}

let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`totals: cannot read the test report ${file}: ${err.message}`);
  process.exit(2);
}

const n = (v) => (Number.isFinite(v) ? v : 0);
const passed = n(report.numPassedTests);
const skipped = n(report.numPendingTests) + n(report.numTodoTests);
let failed = n(report.numFailedTests);

const brokenFiles = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && !(r.assertionResults ?? []).some((a) => a.status === 'failed'),
);
if (brokenFiles.length > 0) {
  for (const r of brokenFiles) {
    const why = String(r.message ?? '').split('\n')[0];
    console.error(`totals: test file failed outside any test: ${r.name}${why ? `: ${why}` : ''}`);
  }
  failed += brokenFiles.length;
}

console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);

if (failed > 0) process.exit(1);
if (passed === 0) {
  console.error('totals: no test passed (none ran)');
  process.exit(3);
}
