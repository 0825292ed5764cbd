import { describe, expect, it } from 'vitest';
import { Reporter } from '../../src/cli/output.js';

function reporter(options: { progress: boolean; format?: 'pretty' | 'json' }) {
  let written = '';
  const r = new Reporter({
    format: options.format ?? 'pretty', quiet: false, debug: false, color: false, progress: options.progress,
    stderr: { write: (chunk: string) => (written += chunk) },
  });
  return { r, output: () => written };
}

const start = (index: number, file: string) => ({ event: 'migration.start' as const, version: index, name: file, file, transaction: true, index, total: 2 });
const applied = (index: number, file: string) => ({ event: 'migration.applied' as const, version: index, name: file, file, durationMs: 3, index, total: 2 });

describe('Reporter', () => {
  it('on a terminal, keeps a progress line (n of N, the file, elapsed) below the log lines, and clears it at the end', () => {
    const { r, output } = reporter({ progress: true });
    r.event(start(1, '1_a.up.sql'));
    r.event(applied(1, '1_a.up.sql'));
    r.event(start(2, '2_b.up.sql'));
    r.log('warn', 'a warning while 2 runs');
    r.event(applied(2, '2_b.up.sql'));
    const text = output();
    expect(text).toMatch(/\r\u001b\[Kapplying 1 of 2: 1_a\.up\.sql \(\d+ms; run \d+ms\)/);
    // The warning is written over the progress line, which is drawn again under it.
    expect(text).toMatch(/\r\u001b\[K\d\d:\d\d:\d\d WARN  a warning while 2 runs\n\r\u001b\[Kapplying 2 of 2: 2_b\.up\.sql/);
    expect(text.endsWith('\r\u001b[K')).toBe(true);
    expect(text.split('\n').filter((line) => line.includes('applied')).length).toBe(2);
  });

  it('without a terminal, writes log lines only: JSON gains the index and total fields, nothing else', () => {
    const { r, output } = reporter({ progress: false, format: 'json' });
    r.event(start(1, '1_a.up.sql'));
    r.event(applied(1, '1_a.up.sql'));
    const lines = output().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(output()).not.toContain('\r');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'migration.applied', index: 1, total: 2, file: '1_a.up.sql' });
  });

  it("masks a credential where it stands and nothing else, whoever wrote the line", () => {
    const { r, output } = reporter({ progress: false });
    r.log('info', 'connected to postgres://postgres:postgres@db:5432/postgres (PostgreSQL 15)');
    expect(output()).toContain('connected to postgres://postgres:****@db:5432/postgres (PostgreSQL 15)');
  });
});
