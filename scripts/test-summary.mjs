#!/usr/bin/env node
// Reads vitest's JSON reports and prints one closing line over all of them:
// `N passed, N failed[, N skipped]`.
//
//   node scripts/test-summary.mjs [report.json ...]      (default .tmp/vitest.json)
//
// Several reports are summed (.ci/run runs the integration tests a second time in a network
// namespace where no server answers); failures are named with the report they come from.
//
// Counting:
// - passed / failed: tests with that status.
// - A test file that failed without any failing test (an import error, a failing beforeAll, whose
//   tests vitest then reports as skipped) counts as one failed test; otherwise a broken file could
//   read "0 failed".
// - skipped: skipped + todo tests (printed only when non-zero).
// - A report that is missing or unreadable (vitest did not run, or crashed) counts as one failed
//   test when other reports were read, so the line never reads as if everything passed.
//
// Exit status: 0 only when every report exists, at least one test ran, and nothing failed.
// Notes go before the closing line, which is always the last line written to stdout, even when the
// only report is missing (then `0 passed, 0 failed`).
import { readFileSync } from 'node:fs';
import path from 'node:path';

const reportPaths = process.argv.length > 2 ? process.argv.slice(2) : ['.tmp/vitest.json'];

function closingLine({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

const rel = (file) => path.relative(process.cwd(), file);
let passed = 0;
let failed = 0;
let skipped = 0;
let usable = true;
const failures = [];
const missing = [];

for (const reportPath of reportPaths) {
  const label = reportPaths.length > 1 ? `[${path.basename(reportPath, '.json')}] ` : '';
  let report;
  try {
    report = JSON.parse(readFileSync(reportPath, 'utf8'));
  } catch (error) {
    console.log(`test-summary: no usable vitest report at ${reportPath} (${error.code ?? error.message}); vitest did not run or crashed`);
    missing.push(reportPath);
    usable = false;
    continue;
  }
  if (report.success === false) usable = false;
  const files = Array.isArray(report.testResults) ? report.testResults : [];
  for (const file of files) {
    const tests = Array.isArray(file.assertionResults) ? file.assertionResults : [];
    let failedHere = 0;
    for (const test of tests) {
      if (test.status === 'passed') passed++;
      else if (test.status === 'failed') {
        failed++;
        failedHere++;
        failures.push(`${label}${rel(file.name)} > ${test.fullName ?? test.title}`);
      } else skipped++; // skipped, pending, todo, disabled
    }
    if (file.status === 'failed' && failedHere === 0) {
      failed++;
      const reason = String(file.message ?? '').split('\n')[0].slice(0, 200) || 'failed without a failing test';
      failures.push(`${label}${rel(file.name)} (file error: ${reason})`);
    }
  }
}

if (missing.length === reportPaths.length) {
  console.log(closingLine({ passed: 0, failed: 0, skipped: 0 }));
  process.exit(1);
}
for (const reportPath of missing) {
  failed++;
  failures.push(`${reportPath} (no report)`);
}

if (failures.length > 0) {
  console.log(`test-summary: ${failures.length} failure(s):`);
  for (const failure of failures) console.log(`  FAIL ${failure}`);
}
if (passed + failed === 0) {
  console.log('test-summary: no tests ran');
}
console.log(closingLine({ passed, failed, skipped }));
process.exit(failed === 0 && passed > 0 && usable ? 0 : 1);
