/**
 * The golang-migrate-shaped MySQL folder (test/fixtures/real-world/golang-migrate-mysql) applied
 * unchanged by berth, and the way golang-migrate applies it (each file sent whole, the server
 * splitting it): both databases must end up the same, table by table, routine by routine, row by
 * row. Then `down --all` must leave nothing but berth's history table.
 */
import { cpSync } from 'node:fs';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { jsonLines, makeTempDir, runBerth } from '../helpers/cli.js';
import { mysqlServer, useMysqlDatabase, type MysqlTestDatabase } from '../helpers/mysql.js';

const server = await mysqlServer();
const FIXTURE = fileURLToPath(new URL('../fixtures/real-world/golang-migrate-mysql/', import.meta.url));

/** golang-migrate's MySQL driver: one file, one multi-statement query. */
async function applyLikeGolangMigrate(db: MysqlTestDatabase): Promise<void> {
  const connection = await mysql.createConnection({ uri: db.url, multipleStatements: true });
  try {
    for (const file of readdirSync(FIXTURE).filter((f) => f.endsWith('.up.sql')).sort()) {
      const text = readFileSync(path.join(FIXTURE, file), 'utf8');
      // The server refuses an empty query; golang-migrate skips a file with nothing in it the same way.
      if (text.replace(/--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\//g, '').trim() === '') continue;
      await connection.query(text);
    }
  } finally {
    await connection.end();
  }
}

/** Everything a schema dump would show, with the database's own name taken out. */
async function describeSchema(db: MysqlTestDatabase): Promise<Record<string, unknown>> {
  const strip = (text: unknown) => String(text).replaceAll(db.name, '<db>').replace(/ AUTO_INCREMENT=\d+/, '');
  const tables = await db.query<{ name: string; type: string }>(
    "SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE 'berth%' ORDER BY 1");
  const out: Record<string, unknown> = {};
  for (const t of tables) {
    const [created] = await db.query<Record<string, string>>(`SHOW CREATE ${t.type === 'VIEW' ? 'VIEW' : 'TABLE'} \`${t.name}\``);
    out[`${t.type} ${t.name}`] = strip(created?.['Create Table'] ?? created?.['Create View']);
    // updated_at holds the time the backfill ran (ON UPDATE and the users_touch trigger): not compared.
    if (t.type !== 'VIEW') out[`rows ${t.name}`] = (await db.query<Record<string, unknown>>(`SELECT * FROM \`${t.name}\` ORDER BY 1`)).map(({ updated_at: _, ...row }) => row);
  }
  out.routines = (await db.query("SELECT ROUTINE_TYPE, ROUTINE_NAME, ROUTINE_DEFINITION, SQL_DATA_ACCESS FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 2"));
  out.triggers = await db.query('SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1');
  out.events = await db.query('SELECT EVENT_NAME, EVENT_DEFINITION, STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() ORDER BY 1');
  return out;
}

describe.skipIf(!server)('a golang-migrate MySQL folder as real projects write it', () => {
  const viaBerth = useMysqlDatabase(server!, 'rw_berth');
  const viaGolangMigrate = useMysqlDatabase(server!, 'rw_gm');

  it('applies unchanged with berth, to the same schema and rows as golang-migrate gives, and down --all undoes it', async () => {
    const dir = makeTempDir();
    cpSync(FIXTURE, dir, { recursive: true });
    const up = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: viaBerth().url } });
    expect(up.code, up.stderr).toBe(0);
    expect(jsonLines(up.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ applied: 10, current: 10 });
    // The comments-only file is recorded as applied, with a warning.
    expect(jsonLines(up.stderr).some((e) => e.code === 'W_EMPTY_MIGRATION' && e.version === 9)).toBe(true);
    const history = await viaBerth().query<{ version: string; status: string; statements_applied: number }>(
      'SELECT version, status, statements_applied FROM berth_migrations ORDER BY version');
    expect(history.map((r) => [Number(r.version), r.status, r.statements_applied])).toEqual([
      [1, 'applied', 5], [2, 'applied', 2], [3, 'applied', 4], [4, 'applied', 10], [5, 'applied', 2],
      [6, 'applied', 2], [7, 'applied', 1], [8, 'applied', 5], [9, 'applied', 0], [10, 'applied', 3],
    ]);

    await applyLikeGolangMigrate(viaGolangMigrate());
    const berthSchema = await describeSchema(viaBerth());
    expect(Object.keys(berthSchema)).toContain('BASE TABLE orders');
    expect(berthSchema).toEqual(await describeSchema(viaGolangMigrate()));

    const down = await runBerth(['down', '--all', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: viaBerth().url } });
    expect(down.code, down.stderr).toBe(0);
    expect(await viaBerth().query('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()')).toEqual([{ t: 'berth_migrations' }]);
    expect(await viaBerth().query('SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()')).toEqual([]);
    expect(await viaBerth().query('SELECT version FROM berth_migrations')).toEqual([]);
  });
});
