/**
 * The backup and restore drill of docs/backup-and-restore.md, in containers:
 * deploy/compose/migrate-with-backup.sh against a Compose project of compose.yaml. A release whose
 * no-transaction migration fails half-way is rolled back by the restore (schema, history and rows
 * as before, the service untouched and serving); the fixed release then migrates and deploys.
 *
 * Override besides the engine's: the test's migrations folder (the release) mounted into the
 * users migrator and, for the fixed release, into the users service, whose /ready compares the
 * database with it (compose.dev.yaml mounts the service's migrations the same way).
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../packages/berth/test/helpers/cli.js';
import { ComposeProject, engineEnv, generateSecrets, migrationsOverride, migrationsWith, skipReason, upVersions } from './support/compose.js';
import { repoPath, run } from './support/run.js';

const SCRIPT = repoPath('deploy/compose/migrate-with-backup.sh');
const current = upVersions(readdirSync(repoPath('services/users/migrations'))).at(-1)!;

/** A no-transaction migration whose third statement fails, after two that change the schema. */
const FAILING = `-- berth:no-transaction
ALTER TABLE users ADD COLUMN nickname text;
CREATE TABLE user_nicknames (user_id bigint PRIMARY KEY REFERENCES users (id), nickname text NOT NULL);
CREATE INDEX CONCURRENTLY users_nickname_idx ON users (nick_name);
`;
const FIXED = FAILING.replace('(nick_name)', '(nickname)');
const NEXT = String(current + 1).padStart(6, '0');

describe.skipIf(skipReason() !== undefined)('backup, migrate, verify, deploy; restore when the migration fails', () => {
  const project = new ComposeProject('drill');
  const backups = makeTempDir('berth-backups-', 0o700);
  let userId = 0;

  const drill = () => run('bash', [SCRIPT, 'users'], { env: { ...project.composeEnv(), BACKUP_DIR: backups }, timeoutMs: 300_000 });
  const columns = async () => (await project.sql('users', "SELECT column_name FROM information_schema.columns WHERE table_name = 'users' ORDER BY 1")).flat();
  const history = async () => project.sql('users', 'SELECT version, status FROM berth_migrations ORDER BY version');

  beforeAll(async () => {
    engineEnv();
    await generateSecrets();
    await project.must(['up', '--wait', '--detach']);
    userId = (await project.request('orders', 'http://users:8080/users', { username: 'grace', email: 'grace@example.com' })).body.id;
  });
  afterAll(() => project.down());

  it('a failing migration: the backup is restored, nothing of it is left, the service keeps serving the old schema', async () => {
    const columnsBefore = await columns();
    const release = migrationsWith('users', { [`${NEXT}_add_users_nickname.up.sql`]: FAILING });
    project.override(migrationsOverride('users-migrate', release));

    const result = await drill();
    const output = result.stdout + result.stderr;
    expect(result.code, output).toBe(1);
    // berth recorded the half-done file as failed: every later migrate would refuse (exit 5).
    expect(output).toMatch(/"event":"migration\.failed"/);
    expect(output).toMatch(/the migration failed \(exit 1\)/);
    expect(output).toMatch(/users was not redeployed/);

    expect(await history()).toEqual(Array.from({ length: current }, (_, i) => [String(i + 1), 'applied']));
    expect(await columns()).toEqual(columnsBefore);
    expect(await project.sql('users', "SELECT to_regclass('user_nicknames') IS NULL")).toEqual([['t']]);
    // The rows and the app role's grants came back with the schema: the service reads them.
    expect(await project.request('orders', `http://users:8080/users/${userId}`)).toMatchObject({ status: 200, body: { username: 'grace' } });
    expect(await project.request('orders', 'http://users:8080/ready')).toEqual({ status: 200, body: { status: 'ready', schemaVersion: current } });
    expect(readdirSync(backups)).toEqual([expect.stringMatching(/^users-\d{8}T\d{6}Z\.dump$/)]);
  });

  it('the fixed release: migrated after a new backup, verified, and the service redeployed on the new schema', async () => {
    const release = migrationsWith('users', { [`${NEXT}_add_users_nickname.up.sql`]: FIXED });
    project.override(migrationsOverride('users-migrate', release));
    project.override(migrationsOverride('users', release, '/app/migrations'));
    // A second within the same second would reuse the first backup's name.
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const result = await drill();
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect((await history()).at(-1)).toEqual([String(current + 1), 'applied']);
    expect(await columns()).toContain('nickname');
    expect(await project.request('orders', 'http://users:8080/ready')).toEqual({ status: 200, body: { status: 'ready', schemaVersion: current + 1 } });
    expect(readdirSync(backups)).toHaveLength(2);
  });
});
