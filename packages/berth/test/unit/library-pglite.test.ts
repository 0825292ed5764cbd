import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMigrator, type BerthEvent } from '../../src/index.js';

describe('the library on an embedded database', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-lib-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, '1_a.up.sql'), 'CREATE TABLE a (id int);');
  writeFileSync(path.join(dir, '1_a.down.sql'), 'DROP TABLE a;');
  writeFileSync(path.join(dir, '2_b.up.sql'), 'CREATE TABLE b (id int);');
  writeFileSync(path.join(dir, '2_b.down.sql'), 'DROP TABLE b;');

  it('keeps a pglite://memory database for the life of the migrator: up, status, check, down', async () => {
    const events: BerthEvent[] = [];
    const m = createMigrator({ databaseUrl: 'pglite://memory', dir, onEvent: (e) => events.push(e) });
    try {
      const up = await m.up();
      expect(up.applied.map((a) => a.version)).toEqual([1, 2]);
      expect((await m.status()).current).toBe(2);
      expect(await m.check({ expect: 2 })).toEqual({ current: 2, upToDate: true, pending: 0 });
      const down = await m.down({ steps: 1 });
      expect(down).toMatchObject({ reverted: [{ version: 2, name: 'b' }], current: 1 });
      const status = await m.status();
      expect(status.pending.map((p) => p.version)).toEqual([2]);
      expect(events.filter((e) => e.event === 'migration.applied')).toHaveLength(2);
    } finally {
      await m.close();
    }
  }, 60_000);
});
