/**
 * deploy/compose: the Compose Specification's JSON Schema (the copy dclint ships, from
 * compose-spec/compose-spec), dclint's rules, and the contract (docs/reference-system.md): service
 * names, the migrator command, start-up order, environment, secrets as files, hardening, and the
 * `mariadb` profile beside the default system.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { DCLinter } from 'dclint';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { contractServiceVariables, isPinnedImage, readRepoFile, readYamlDocuments, repoPath } from '../support/files.js';

const COMPOSE = 'deploy/compose/compose.yaml';
const COMPOSE_DEV = 'deploy/compose/compose.dev.yaml';
const ENGINE_OVERRIDE = 'deploy/containers/compose.engine-20.10.yaml';
const SERVICES = ['users', 'orders'] as const;
/** Each migrator: the database service it waits for, its owner URL secret, its migrations folder. */
const MIGRATORS = [
  { name: 'users-migrate', database: 'postgres', secret: 'users_owner_url', migrations: '../../services/users/migrations' },
  { name: 'orders-migrate', database: 'postgres', secret: 'orders_owner_url', migrations: '../../services/orders/migrations' },
  { name: 'inventory-migrate', database: 'mariadb', secret: 'inventory_owner_url', migrations: '../../examples/mariadb/migrations' },
] as const;

const compose = readYamlDocuments(COMPOSE)[0]!.data;
const composeDev = readYamlDocuments(COMPOSE_DEV)[0]!.data;

/** The Compose Specification schema as dclint ships it (draft-07; `$schema` names no URL ajv knows). */
function composeSchema(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  const file = path.join(path.dirname(require.resolve('dclint/package.json')), 'schemas/compose.schema.json');
  const schema = JSON.parse(readFileSync(file, 'utf8'));
  delete schema.$schema;
  return schema;
}

describe('Compose files', () => {
  const validate = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile(composeSchema());

  it.each([COMPOSE, COMPOSE_DEV])('%s validates against the Compose Specification schema', (file) => {
    const data = readYamlDocuments(file)[0]!.data;
    const ok = validate(data);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema rejects what it is there to reject', () => {
    const bad = structuredClone(compose);
    bad.services.users.depends_on['users-migrate'].condition = 'service_completed';
    bad.services.users.read_onyl = true;
    expect(validate(bad)).toBe(false);
    const messages = JSON.stringify(validate.errors);
    expect(messages).toContain('read_onyl');
    expect(messages).toContain('service_completed_successfully');
  });

  it('pass dclint (every rule except the purely stylistic ordering ones)', () => {
    const linter = new DCLinter({
      rules: {
        // Keys are grouped for the reader (what runs, what it may touch, how it is hardened).
        'service-keys-order': 0,
        'services-alphabetical-order': 0,
        'service-dependencies-alphabetical-order': 0,
        'service-ports-alphabetical-order': 0,
        // Still required; in the files' quoting style.
        'require-quotes-in-ports': [2, { quoteType: 'double' }],
      },
      quiet: false,
      debug: false,
      exclude: [],
    });
    // dclint's declarations import their types without file extensions, which NodeNext cannot follow.
    const results: { filePath: string; messages: { line: number; rule: string; message: string }[] }[] = linter.lintFiles([repoPath(COMPOSE), repoPath(COMPOSE_DEV)], false);
    expect(results).toHaveLength(2);
    expect(results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.rule}: ${m.message}`))).toEqual([]);
  });
});

describe('compose.yaml follows the contract', () => {
  const services = compose.services as Record<string, any>;
  const contractVariables = contractServiceVariables();

  it('has postgres, one migrator per database and the two services; the mariadb profile adds MariaDB and its migrator', () => {
    const profiled = Object.keys(services).filter((name) => services[name].profiles !== undefined);
    expect(Object.keys(services).filter((name) => !profiled.includes(name)).sort()).toEqual(['orders', 'orders-migrate', 'postgres', 'users', 'users-migrate']);
    expect(profiled.sort()).toEqual(['inventory-migrate', 'mariadb']);
    for (const name of profiled) expect(services[name].profiles, name).toEqual(['mariadb']);
    // Nothing of the default system may need the profile (Compose would refuse to start it).
    for (const [name, svc] of Object.entries(services)) {
      if (svc.profiles) continue;
      for (const dependency of Object.keys(svc.depends_on ?? {})) expect(services[dependency].profiles, `${name} -> ${dependency}`).toBeUndefined();
    }
  });

  it('postgres: pinned image, pg_isready healthcheck, the init script mounted, passwords as secret files', () => {
    const pg = services.postgres;
    expect(isPinnedImage(pg.image)).toBe(true);
    expect(pg.healthcheck.test[0]).toBe('CMD');
    expect(pg.healthcheck.test[1]).toBe('pg_isready');
    const init = pg.volumes.find((v: any) => v.target?.startsWith('/docker-entrypoint-initdb.d/'));
    expect(init).toMatchObject({ type: 'bind', source: '../initdb/01-roles-and-databases.sh', read_only: true });
    expect(existsSync(path.resolve(repoPath('deploy/compose'), init.source))).toBe(true);
    for (const key of ['POSTGRES_PASSWORD', 'USERS_OWNER_PASSWORD', 'USERS_APP_PASSWORD', 'ORDERS_OWNER_PASSWORD', 'ORDERS_APP_PASSWORD']) {
      expect(pg.environment[key], `${key} must come from a file`).toBeUndefined();
      const file = pg.environment[`${key}_FILE`];
      expect(file).toMatch(/^\/run\/secrets\/[a-z_]+$/);
      expect(pg.secrets).toContain(path.posix.basename(file));
    }
  });

  it('mariadb: the 10.11 image, its own healthcheck, the init script mounted, passwords as secret files, data in a volume', () => {
    const db = services.mariadb;
    expect(db.image).toBe('mariadb:10.11');
    expect(isPinnedImage(db.image)).toBe(true);
    expect(db.healthcheck.test).toEqual(['CMD', 'healthcheck.sh', '--connect', '--innodb_initialized']);
    const init = db.volumes.find((v: any) => v.target?.startsWith('/docker-entrypoint-initdb.d/'));
    expect(init).toMatchObject({ type: 'bind', source: '../initdb/mariadb/01-database-and-owner.sh', read_only: true });
    expect(existsSync(path.resolve(repoPath('deploy/compose'), init.source))).toBe(true);
    expect(db.volumes).toContainEqual({ type: 'volume', source: 'mariadb-data', target: '/var/lib/mysql' });
    expect(Object.keys(compose.volumes)).toContain('mariadb-data');
    for (const key of ['MARIADB_ROOT_PASSWORD', 'INVENTORY_OWNER_PASSWORD']) {
      expect(db.environment[key], `${key} must come from a file`).toBeUndefined();
      const file = db.environment[`${key}_FILE`];
      expect(file).toMatch(/^\/run\/secrets\/[a-z_]+$/);
      expect(db.secrets).toContain(path.posix.basename(file));
    }
    // root only from inside the container; the image's default, '%', would open it to the network.
    expect(db.environment.MARIADB_ROOT_HOST).toBe('localhost');
    expect(db.tmpfs).toEqual(['/tmp', '/run/mysqld']);
  });

  it.each(MIGRATORS)('$name runs `berth migrate --wait 60s --dir /migrations` as the owner, after $database is healthy', (expected) => {
    const migrator = services[expected.name];
    expect(migrator.entrypoint).toEqual(['berth']);
    expect(migrator.command).toEqual(['migrate', '--wait', '60s', '--lock-timeout', '5m', '--dir', '/migrations']);
    expect(migrator.build).toMatchObject({ context: '../..', dockerfile: 'packages/berth/Dockerfile' });
    expect(migrator.image).toBe(services['users-migrate'].image);
    expect(migrator.environment).toEqual({ DATABASE_URL_FILE: `/run/secrets/${expected.secret}`, BERTH_LOG_FORMAT: 'json' });
    expect(migrator.secrets).toEqual([expected.secret]);
    const migrations = migrator.volumes.find((v: any) => v.target === '/migrations');
    expect(migrations).toMatchObject({ type: 'bind', source: expected.migrations, read_only: true });
    expect(existsSync(path.resolve(repoPath('deploy/compose'), migrations.source))).toBe(true);
    expect(migrator.depends_on).toEqual({ [expected.database]: { condition: 'service_healthy' } });
    expect(migrator.restart).toBe('no');
    expect(migrator.stop_grace_period).toBe('10s');
  });

  it.each(SERVICES)('%s starts after its migrator exited 0, as the app role, with the contract environment', (service) => {
    const svc = services[service];
    expect(svc.depends_on).toEqual({ [`${service}-migrate`]: { condition: 'service_completed_successfully' } });
    expect(svc.command).toEqual(['node', 'dist/main.js']);
    expect(svc.working_dir).toBe('/app');
    expect(svc.build).toMatchObject({ context: '../..', dockerfile: `services/${service}/Dockerfile`, target: 'service' });
    expect(svc.environment.DATABASE_URL_FILE).toBe(`/run/secrets/${service}_app_url`);
    expect(svc.secrets).toEqual([`${service}_app_url`]);
    expect(svc.environment.MIGRATE_ON_START).toBe('false');
    for (const key of Object.keys(svc.environment)) {
      expect(contractVariables.has(key.replace(/_FILE$/, '')), `${key} is not in the contract's service environment`).toBe(true);
    }
    // Environment as a map of strings (Compose would accept numbers, but the e2e test reads it).
    for (const value of Object.values(svc.environment)) expect(typeof value).toBe('string');
    if (service === 'orders') expect(svc.environment.USERS_SERVICE_URL).toBe('http://users:8080');
    expect(svc.healthcheck.test.join(' ')).toContain('/ready');
  });

  it('every container except the databases runs as a non-root numeric user on a read-only root file system, with limits', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect(svc.read_only, name).toBe(true);
      expect(svc.deploy?.resources?.limits?.memory, name).toBeTruthy();
      expect(svc.deploy?.resources?.limits?.cpus, name).toBeTruthy();
      expect(svc.restart, name).toBeTruthy();
      // The images start as root and drop to their own user (postgres, mysql) themselves.
      if (name === 'postgres' || name === 'mariadb') continue;
      expect(svc.user, name).toMatch(/^[1-9]\d*:\d+$/);
      expect(svc.cap_drop, name).toEqual(['ALL']);
      expect(svc.security_opt, name).toContain('no-new-privileges:true');
    }
  });

  it('declares every secret as a file under ./secrets, and every declared secret is used', () => {
    const declared = compose.secrets as Record<string, { file: string }>;
    const used = new Set(Object.values(services).flatMap((s: any) => s.secrets ?? []));
    for (const name of Object.keys(composeDev.services).flatMap((n) => composeDev.services[n].secrets ?? [])) used.add(name);
    expect(Object.keys(declared).sort()).toEqual([...used].sort());
    for (const [name, secret] of Object.entries(declared)) expect(secret.file, name).toBe(`./secrets/${name}`);
  });

  it('keeps commands explicit for the end-to-end test: lists and maps, no YAML anchors or merge keys', () => {
    const text = readRepoFile(COMPOSE);
    expect(text).not.toMatch(/^\s*<<:|&[A-Za-z]|\*[A-Za-z][\w-]*\s*$/m);
    for (const [name, svc] of Object.entries(services)) {
      if (svc.command !== undefined) expect(Array.isArray(svc.command), name).toBe(true);
      if (svc.entrypoint !== undefined) expect(Array.isArray(svc.entrypoint), name).toBe(true);
      expect(Array.isArray(svc.environment), name).toBe(false);
    }
  });
});

describe('containers/compose.engine-20.10.yaml', () => {
  it('resets healthcheck.start_interval (Engine 25 and later) on every service that sets it, and changes nothing else', () => {
    const text = readRepoFile(ENGINE_OVERRIDE);
    const override = YAML.parse(text, { customTags: [{ tag: '!reset', resolve: () => ({ reset: true }) }] }) as { services: Record<string, any> };
    const withStartInterval = Object.keys(compose.services).filter((name) => compose.services[name].healthcheck?.start_interval !== undefined);
    expect(Object.keys(override.services).sort()).toEqual(withStartInterval.sort());
    for (const service of Object.values(override.services)) expect(service).toEqual({ healthcheck: { start_interval: { reset: true } } });
  });
});

describe('compose.dev.yaml', () => {
  it('publishes on 127.0.0.1 only and shows MIGRATE_ON_START with the owner URL from a secret', () => {
    for (const [name, svc] of Object.entries(composeDev.services as Record<string, any>)) {
      for (const port of svc.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
    const orders = composeDev.services.orders;
    expect(orders.environment).toMatchObject({ MIGRATE_ON_START: 'true', MIGRATION_DATABASE_URL_FILE: '/run/secrets/orders_owner_url' });
    expect(orders.secrets).toContain('orders_owner_url');
  });
});

describe('secrets/generate.sh', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-compose-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates every secret file compose.yaml declares, with URLs that match the passwords, and keeps them on a second run', () => {
    const run = () => spawnSync('sh', [repoPath('deploy/compose/secrets/generate.sh'), dir], { encoding: 'utf8' });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    const read = (name: string) => readFileSync(path.join(dir, name), 'utf8').replace(/\n$/, '');
    for (const name of Object.keys(compose.secrets)) expect(existsSync(path.join(dir, name)), name).toBe(true);
    for (const db of SERVICES) {
      for (const role of ['owner', 'app']) {
        const password = read(`${db}_${role}_password`);
        expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
        const url = new URL(read(`${db}_${role}_url`));
        // The contract's default names, which the init script uses when compose.yaml sets none.
        expect({ user: url.username, password: url.password, host: url.host, db: url.pathname }).toEqual({ user: `${db}_${role}`, password, host: 'postgres:5432', db: `/${db}` });
      }
    }
    const before = read('users_app_url');
    const second = run();
    expect(second.status).toBe(0);
    expect(second.stdout).not.toContain('created');
    expect(read('users_app_url')).toBe(before);

    const owner = new URL(read('inventory_owner_url'));
    expect({ protocol: owner.protocol, user: owner.username, password: owner.password, host: owner.host, db: owner.pathname }).toEqual({
      protocol: 'mysql:', user: 'inventory_owner', password: read('inventory_owner_password'), host: 'mariadb:3306', db: '/inventory',
    });
    expect(read('mariadb_root_password')).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it('the secrets folder commits nothing but the script', () => {
    const ignored = spawnSync('git', ['check-ignore', '--no-index', 'deploy/compose/secrets/users_owner_url', 'deploy/compose/secrets/postgres_password'], { cwd: repoPath(), encoding: 'utf8' });
    expect(ignored.stdout.trim().split('\n')).toHaveLength(2);
  });
});
