/**
 * What the Dockerfiles say of their images, checked on the built images themselves: the berth
 * image's own usage example (any UID, read-only root, the URL from a file), `berth lint` and the
 * refusal of pglite:// in it, the migrator images carrying the same migrations as the services,
 * no package managers at run time, no HEALTHCHECK. Prints the images' sizes (on the local
 * stand-in bases, which are not the official images: not the sizes a registry build has).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, makeTempDir } from '../../../packages/berth/test/helpers/cli.js';
import { engineEnv, skipReason } from './support/compose.js';
import { appDir, BERTH_IMAGE, composeServices, kubernetesImages, POSTGRES_IMAGE } from './support/images.js';
import { must, repoPath, run, until, type Result } from './support/run.js';

const id = randomBytes(3).toString('hex');
const NETWORK = `berth-t-images-${id}`;
const PG = `berth-t-images-pg-${id}`;
const PASSWORD = randomBytes(12).toString('hex');

const docker = (args: readonly string[], input?: string): Promise<Result> => {
  const env = engineEnv();
  return run(env.DOCKER!, args, { env, input });
};
const dockerMust = (args: readonly string[]): Promise<Result> => {
  const env = engineEnv();
  return must(env.DOCKER!, args, { env });
};

/** A database URL file for a database of the test's PostgreSQL container, readable by any UID. */
function urlFile(database: string): string {
  const file = path.join(makeTempDir('berth-images-url-'), 'db_url');
  writeFileSync(file, `postgres://postgres:${PASSWORD}@${PG}:5432/${database}\n`, { mode: 0o644 });
  return file;
}

async function createDatabase(name: string): Promise<void> {
  await dockerMust(['exec', PG, 'psql', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`]);
}

describe.skipIf(skipReason() !== undefined)('the images the Dockerfiles build', () => {
  beforeAll(async () => {
    engineEnv();
    await dockerMust(['network', 'create', NETWORK]);
    await dockerMust(['run', '--detach', '--name', PG, '--network', NETWORK, '-e', `POSTGRES_PASSWORD=${PASSWORD}`, POSTGRES_IMAGE]);
    await until('PostgreSQL answers', async () => (await docker(['exec', PG, 'pg_isready', '--host=127.0.0.1'])).code === 0, 60_000);
  });
  afterAll(async () => {
    if (skipReason() !== undefined) return;
    await docker(['rm', '--force', PG]).catch(() => undefined);
    await docker(['network', 'rm', NETWORK]).catch(() => undefined);
  });

  it("packages/berth/Dockerfile's usage example: any UID, a read-only root, the URL from a file", async () => {
    await createDatabase('example');
    const migrations = repoPath('examples/migrations');
    const result = await docker([
      'run', '--rm', '--read-only', '--user', '12345', '--network', NETWORK,
      '-v', `${migrations}:/migrations:ro`,
      '-e', 'DATABASE_URL_FILE=/run/secrets/db_url', '-v', `${urlFile('example')}:/run/secrets/db_url:ro`,
      '-e', 'BERTH_LOG_FORMAT=json',
      BERTH_IMAGE, 'migrate', '--wait', '60s',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const applied = readdirSync(migrations).filter((f) => /^\d+_.*\.up\.(sql|ts|js|mjs)$/.test(f)).length;
    expect(jsonLines(result.stdout + result.stderr).find((l) => l.event === 'run.summary')).toMatchObject({ ok: true, applied });
    // No secret in the output, although the URL holds the password.
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it('a TypeScript migration loads in the image on a read-only root, as any UID (jiti keeps no disk cache)', async () => {
    await createDatabase('typescript');
    const dir = makeTempDir('berth-images-ts-', 0o755);
    writeFileSync(
      path.join(dir, '0001_create_things.ts'),
      "import type { MigrationContext } from 'berth';\nexport async function up(ctx: MigrationContext): Promise<void> {\n  await ctx.sql`CREATE TABLE things (id int PRIMARY KEY)`;\n}\n",
      { mode: 0o644 },
    );
    const result = await docker([
      'run', '--rm', '--read-only', '--user', '23456', '--network', NETWORK, '-v', `${dir}:/migrations:ro`,
      '-e', 'DATABASE_URL_FILE=/run/secrets/db_url', '-v', `${urlFile('typescript')}:/run/secrets/db_url:ro`,
      BERTH_IMAGE, 'migrate', '--wait', '60s',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stdout + result.stderr).find((l) => l.event === 'migration.applied')).toMatchObject({ file: '0001_create_things.ts' });
  });

  it('berth lint runs in the image on a read-only root (libpg-query loaded from node_modules)', async () => {
    const result = await docker(['run', '--rm', '--read-only', '--user', '10001', '-v', `${repoPath('services/users/migrations')}:/migrations:ro`, BERTH_IMAGE, 'lint', '/migrations']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/no findings in \d+ files/);
  });

  it('without PGlite in the image, a pglite:// URL is refused with exit 6 and says why', async () => {
    const result = await docker(['run', '--rm', '--read-only', BERTH_IMAGE, 'status', '-d', 'pglite://memory', '--dir', '/tmp', '--allow-empty']);
    expect(result.code).toBe(6);
    expect(result.stdout + result.stderr).toMatch(/pglite:\/\/ needs the @electric-sql\/pglite package/);
  });

  it('each migrator image applies the migrations of its app (those its service image compares with), as a non-root UID on a read-only root', async () => {
    for (const migrator of kubernetesImages().filter((image) => image.includes('-migrator:'))) {
      const app = /berth-example\/([a-z]+)-migrator:/.exec(migrator)![1]!;
      const list = async (image: string, dir: string) => (await dockerMust(['run', '--rm', '--entrypoint', 'ls', image, dir])).stdout.split('\n').filter(Boolean);
      const files = readdirSync(repoPath(appDir(app), 'migrations')).sort();
      expect(await list(migrator, '/migrations'), migrator).toEqual(files);
      // A service's image compares with the same files; an example's migrator (tenants) has no service.
      const service = composeServices()[app]?.image;
      if (service) expect(await list(service, '/app/migrations'), service).toEqual(files);

      const database = `images_${app}`;
      await createDatabase(database);
      // The image's own command (CMD): migrate --dir /migrations.
      const result = await docker(['run', '--rm', '--read-only', '--user', '10001:10001', '--cap-drop', 'ALL', '--network', NETWORK,
        '-e', 'DATABASE_URL_FILE=/run/secrets/db_url', '-v', `${urlFile(database)}:/run/secrets/db_url:ro`, migrator]);
      expect(result.code, `${migrator}\n${result.stderr}`).toBe(0);
      const versions = (await dockerMust(['exec', PG, 'psql', '-U', 'postgres', '-d', database, '-At', '-c', 'SELECT count(*) FROM berth_migrations'])).stdout.trim();
      expect(Number(versions), migrator).toBe(files.filter((f) => f.includes('.up.')).length);
    }
  });

  it('runtime images: no npm or package manager, no node_modules in the services, a numeric user, no HEALTHCHECK of their own', async () => {
    const services = composeServices();
    for (const image of [BERTH_IMAGE, services.users!.image!, services.orders!.image!]) {
      const config = JSON.parse((await dockerMust(['image', 'inspect', image])).stdout)[0].Config;
      expect(config.User, image).toBe('10001:10001');
      const npm = await docker(['run', '--rm', '--entrypoint', 'sh', image, '-c', 'command -v npm npx corepack yarn; ls /usr/local/lib/node_modules 2>/dev/null']);
      expect(npm.stdout.trim(), image).toBe('');
      if (image === BERTH_IMAGE) expect(config.Healthcheck, image).toEqual({ Test: ['NONE'] });
      else {
        expect(config.Healthcheck ?? null, image).toBeNull();
        // A service image runs the service only: `berth await` belongs in the migrator image.
        expect((await docker(['run', '--rm', '--entrypoint', 'sh', image, '-c', 'command -v berth'])).code, image).not.toBe(0);
        expect((await dockerMust(['run', '--rm', '--entrypoint', 'ls', image, '/app'])).stdout.split('\n').filter(Boolean).sort(), image).toEqual(['dist', 'migrations', 'package.json']);
      }
    }
  });

  it('prints the image sizes (on local stand-in bases)', async () => {
    const images = [...new Set([BERTH_IMAGE, composeServices().users!.image!, composeServices().orders!.image!, ...kubernetesImages(), POSTGRES_IMAGE])];
    const lines: string[] = [];
    for (const image of images) {
      const size = Number((await dockerMust(['image', 'inspect', '-f', '{{.Size}}', image])).stdout.trim());
      expect(size, image).toBeGreaterThan(0);
      lines.push(`  ${(size / 1e6).toFixed(0).padStart(5)} MB  ${image}`);
    }
    console.log(
      `image sizes (the node and postgres bases are local stand-ins built from Debian and this machine's Node.js, ` +
        `tagged under the official names: real Alpine images are smaller and use musl):\n${lines.join('\n')}`,
    );
    // The service images add only their bundle to the base: no node_modules.
    const base = Number((await dockerMust(['image', 'inspect', '-f', '{{.Size}}', readFileSync(repoPath('services/users/Dockerfile'), 'utf8').match(/^FROM (node:\S+) AS base$/m)![1]!])).stdout.trim());
    const users = Number((await dockerMust(['image', 'inspect', '-f', '{{.Size}}', composeServices().users!.image!])).stdout.trim());
    expect(users - base).toBeLessThan(20e6);
  });
});
