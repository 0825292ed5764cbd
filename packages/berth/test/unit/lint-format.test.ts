/** The four output formats of `berth lint`, on a report built by hand (no parser needed). */
import { describe, expect, it } from 'vitest';

import { formatReport, RULES, summarize, type Finding, type FileReport } from '../../src/lint/index.js';

const finding = (over: Partial<Finding> = {}): Finding => ({
  rule: 'drop-column', severity: 'error', file: 'migrations/2_drop.up.sql', line: 3, column: 19,
  message: 'drops column email of users', why: 'the old version reads it', fix: 'expand/contract', ...over,
});

const files: FileReport[] = [
  {
    file: 'migrations/2_drop.up.sql', statements: 2,
    findings: [finding(), finding({ rule: 'missing-lock-timeout', severity: 'warning', line: 3, column: 1, message: 'no lock timeout' })],
    suppressed: [{ ...finding({ rule: 'drop-table', line: 5, column: 1 }), reason: 'unused since 2.3', allowLine: 4 }],
  },
  { file: 'migrations/1_init.up.sql', statements: 1, findings: [], suppressed: [] },
];
const report = summarize(files);

describe('lint output formats', () => {
  it('text: location, severity, rule, message, then why and fix, then a summary', () => {
    expect(formatReport(report, 'text', { version: '1.2.3' })).toBe([
      'migrations/2_drop.up.sql:3:19: error [drop-column] drops column email of users',
      '    why: the old version reads it',
      '    fix: expand/contract',
      '',
      'migrations/2_drop.up.sql:3:1: warning [missing-lock-timeout] no lock timeout',
      '    why: the old version reads it',
      '    fix: expand/contract',
      '',
      '1 error, 1 warning in 2 files (1 suppressed by berth:allow)',
      '',
    ].join('\n'));
    expect(formatReport(summarize([files[1]!]), 'text', { version: '1' })).toBe('no findings in 1 file\n');
  });

  it('json: counts, findings and suppressed findings with their reason', () => {
    const json = JSON.parse(formatReport(report, 'json', { version: '1' }));
    expect(json).toMatchObject({ files: 2, errors: 1, warnings: 1 });
    expect(json.findings[0]).toEqual(finding());
    expect(json.suppressed[0]).toMatchObject({ rule: 'drop-table', reason: 'unused since 2.3', allowLine: 4 });
  });

  it('github: one workflow command per finding, with properties and data escaped', () => {
    const tricky = summarize([{
      file: 'db/a,b:c.sql', statements: 1, suppressed: [],
      findings: [finding({ file: 'db/a,b:c.sql', message: '100% sure, really:\nyes', severity: 'warning' })],
    }]);
    const [line, summary] = formatReport(tricky, 'github', { version: '1' }).trimEnd().split('\n');
    expect(line).toBe(
      '::warning file=db/a%2Cb%3Ac.sql,line=3,col=19,title=berth lint%3A drop-column::100%25 sure, really:%0Ayes%0Awhy: the old version reads it%0Afix: expand/contract',
    );
    expect(summary).toBe('0 errors, 1 warning in 1 file');
  });

  it('sarif: 2.1.0 with every rule, code-point columns, and in-source suppressions', () => {
    const sarif = JSON.parse(formatReport(report, 'sarif', { version: '1.2.3' }));
    expect(sarif.version).toBe('2.1.0');
    const [run] = sarif.runs;
    expect(run.tool.driver).toMatchObject({ name: 'berth lint', version: '1.2.3' });
    expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(RULES.map((r) => r.id));
    expect(run.columnKind).toBe('unicodeCodePoints');
    expect(run.results).toHaveLength(3);
    const first = run.results[0];
    expect(first).toMatchObject({
      ruleId: 'drop-column', level: 'error',
      locations: [{ physicalLocation: { artifactLocation: { uri: 'migrations/2_drop.up.sql' }, region: { startLine: 3, startColumn: 19 } } }],
    });
    expect(run.tool.driver.rules[first.ruleIndex].id).toBe('drop-column');
    expect(run.results[2].suppressions).toEqual([{ kind: 'inSource', justification: 'unused since 2.3' }]);
  });
});
