import type { StatusEntry } from '../../index.js';
import type { CommandRun } from './index.js';

export const status: CommandRun = async (ctx, opts) => {
  const report = await ctx.migrator().status();
  if (opts.json === true) {
    ctx.io.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const rows: string[][] = [['VERSION', 'NAME', 'STATE', 'APPLIED AT', 'DURATION', 'RELEASE']];
    const add = (entries: readonly StatusEntry[], state: string) => {
      for (const e of entries) {
        rows.push([String(e.version), e.name, state, e.appliedAt ?? '', e.durationMs == null ? '' : `${e.durationMs}ms`, e.release ?? '']);
      }
    };
    const problems = new Set([...report.drifted, ...report.missing].map((e) => e.version));
    add(report.applied.filter((e) => !problems.has(e.version)), 'applied');
    add(report.drifted, 'DRIFTED');
    add(report.missing, 'MISSING FILE');
    add(report.failed, 'FAILED');
    add(report.pending, 'pending');
    rows.splice(1, rows.length - 1, ...rows.slice(1).sort((a, b) => Number(a[0]) - Number(b[0])));
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
    const text = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
    const backup = report.lastBackup
      ? `last backup: ${report.lastBackup.location} (taken before version ${report.lastBackup.version} was applied at ${report.lastBackup.appliedAt})\n`
      : '';
    ctx.io.stdout.write(`${text}\n\ncurrent version: ${report.current ?? 'none'}; ${report.pending.length} pending\n${backup}`);
  }
  return {
    exitCode: 0,
    summary: `schema at version ${report.current ?? 'none'}, ${report.pending.length} pending, ${report.failed.length} failed, ${report.drifted.length} drifted, ${report.missing.length} missing`,
    fields: { current: report.current, pending: report.pending.length, failed: report.failed.length, drifted: report.drifted.length, missing: report.missing.length },
  };
};
