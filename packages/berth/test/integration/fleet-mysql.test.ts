/**
 * A fleet whose targets are MySQL/MariaDB databases (a {name} template) and a PostgreSQL one
 * (its own URL) in one list: each target through its own driver, its own lock and history.
 * Every log line is an event of the published schema, fleet lines included.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, jsonLines, makeTempDir, runBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { createMysqlDatabase, mysqlServer, type MysqlTestDatabase } from '../helpers/mysql.js';

const server = await mysqlServer();

describe.skipIf(!server)('a fleet of MySQL databases and a PostgreSQL one', () => {
  const pgDb = useTestDatabase('fleetmix');
  const dbs: MysqlTestDatabase[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) dbs.push(await createMysqlDatabase(server!, `fleet${i}`));
  });
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('migrates each with its own driver, reports each once, and refuses --schema-per-target on MySQL', async () => {
    const cwd = makeTempDir('berth-fleet-mysql-');
    const u = new URL(server!.adminUrl);
    u.pathname = '/NAME_HERE';
    const template = u.toString().replace('NAME_HERE', '{name}').replace(/\/\/[^@]*@/, '//root@');
    const pgUrl = new URL(pgDb().url);
    pgUrl.password = '';
    writeFileSync(path.join(cwd, 'fleet.yaml'), [
      `template: ${template}`,
      'names:', ...dbs.map((d) => `  - ${d.name}`),
      'targets:', `  - { name: pg, url: "${pgUrl.toString()}" }`, '',
    ].join('\n'));
    const dir = writeMigrations({
      '1_items.up.sql': 'CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(40) NOT NULL);\n',
      '2_seed.up.sql': "INSERT INTO items (id, label) VALUES (1, 'one'), (2, 'two');\n",
    });
    const env = { BERTH_DATABASE_URL: server!.adminUrl };
    const r = await runBerth(['migrate', '--targets', 'fleet.yaml', '--dir', dir, '--log-format', 'json', '--parallel', '4'], { cwd, env });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(r.stdout) as { counts: Record<string, number>; results: { target: string; result: string; applied: number[] }[] };
    expect(report.counts.applied).toBe(4);
    expect(report.results.map((x) => x.target).sort()).toEqual([...dbs.map((d) => d.name), 'pg'].sort());
    for (const x of report.results) expect(x.applied).toEqual([1, 2]);
    for (const d of dbs) {
      expect((await d.query<{ n: string | number }>('SELECT COUNT(*) AS n FROM items')).map((x) => Number(x.n))).toEqual([2]);
      expect((await d.query<{ version: string | number }>('SELECT version FROM berth_migrations ORDER BY version')).map((x) => Number(x.version))).toEqual([1, 2]);
    }
    expect((await pgDb().admin.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 2 }]);

    const ajv = new Ajv2020({ allErrors: true, strict: false });
    ajv.addFormat('date-time', (t: string) => !Number.isNaN(Date.parse(t)));
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs/events/v1.schema.json'), 'utf8')));
    const lines = jsonLines(r.stderr);
    expect(lines.filter((l) => l.event === 'fleet.target.done')).toHaveLength(4);
    expect(lines.some((l) => l.event === 'migration.applied' && l.fleetTarget === 'pg')).toBe(true);
    for (const line of lines) expect(validate(line), `${JSON.stringify(line)}: ${ajv.errorsText(validate.errors)}`).toBe(true);

    writeFileSync(path.join(cwd, 'names.yaml'), 'names: [a1]\n');
    const refused = await runBerth(['migrate', '--targets', 'names.yaml', '--schema-per-target', '-d', dbs[0]!.url, '--dir', dir, '--log-format', 'json'], { cwd });
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).failed[0]).toMatchObject({ target: 'a1', exitCode: 2 });
    expect(refused.stderr).toContain('on MySQL a schema is a database');
  });
});
