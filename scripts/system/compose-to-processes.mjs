/**
 * deploy/compose/compose.yaml as local processes: the one place that turns the Compose file into the
 * commands, working directories and environments that `npm start` (scripts/start.mjs) and the
 * end-to-end test (deploy/test/e2e) run, so that neither can drift from the file.
 *
 * Profiles: as in Compose, a service that lists `profiles` is left out unless one of them is asked
 * for (`readSystem({ profiles: ['mariadb'] })`), so `npm start` and the end-to-end test of the
 * default system see it as `docker compose up` does.
 *
 * What is read from compose.yaml, per service:
 * - `entrypoint` + `command` (exec form, lists): the argv. `node` is this Node.js; any other
 *   executable must be a `bin` of the package whose Dockerfile builds the image (`berth` ->
 *   packages/berth/bin/berth.js, run with this Node.js).
 * - `environment` (map or KEY=VALUE list), `secrets`, `volumes` (bind mounts), `working_dir`,
 *   `depends_on`, `deploy.replicas`.
 *
 * Container paths are mapped to local ones, longest prefix first:
 * - a bind mount's `target` -> its `source` (relative to the Compose file): `/migrations` ->
 *   services/<svc>/migrations, `/docker-entrypoint-initdb.d/01-...sh` -> deploy/initdb/01-...sh;
 * - `/run/secrets/<name>` (each secret the service lists) -> `<secretsDir>/<name>`;
 * - `working_dir` (`/app`) -> the directory of the service's `build.dockerfile` (services/<svc>), the
 *   package whose `dist/` and `migrations/` the image copies to /app. A relative script argument
 *   of `node` (`dist/main.js`) is resolved against it.
 * Paths are mapped in arguments (`/x`, `--flag=/x`) and in environment values.
 *
 * Host names: a URL in an environment value whose `host:port` is another Compose service
 * (`http://users:8080`, `postgres://...@postgres:5432/db`) gets the local address the caller gives
 * in `hosts` (`{ 'users:8080': '127.0.0.1:41234', 'postgres:5432': '127.0.0.1:5432' }`); a URL
 * naming a Compose service that `hosts` does not map is an error. Secret files are written by the
 * caller with the local database addresses already in them (`writeSecrets`: `postgres:5432` and
 * `mariadb:3306` become the local servers' `host:port`).
 *
 * Deliberate local differences, applied by the caller through `listen` and `env`: every instance
 * needs its own `PORT` on one host, and `HOST` is 127.0.0.1 (a container listens on 0.0.0.0 inside
 * its own network namespace). Container-only settings are ignored: image, user, read_only,
 * cap_drop, security_opt, resources, healthcheck, restart, stop_grace_period, tmpfs.
 *
 * A process gets a clean environment, as a container does: PATH, HOME, LANG, LC_ALL, TZ and TMPDIR
 * from this process, then the service's `environment`, then the caller's `env`. So a DATABASE_URL
 * in the caller's shell cannot clash with the DATABASE_URL_FILE the Compose file sets.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const COMPOSE_FILE = path.join(REPO_ROOT, 'deploy/compose/compose.yaml');

/** Where the official postgres and mariadb images look for init scripts. */
const INITDB_DIR = '/docker-entrypoint-initdb.d/';
/** The database services, by image: one postgres; one mariadb where its profile is asked for. */
const DATABASE_IMAGES = { postgres: /^postgres(:|$)/, mariadb: /^mariadb(:|$)/ };
/** Variables a local process inherits from this one (the rest is what the Compose file sets). */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/**
 * The two databases of the reference system: the logical name (secret file prefix, as in
 * deploy/compose/secrets/generate.sh) and the init script's settings for it.
 */
export const DATABASES = Object.freeze(['users', 'orders']);

/** The contract's default names (docs/reference-system.md, "Databases and roles"). */
export function defaultNames() {
  return Object.fromEntries(DATABASES.map((db) => [db, { db, owner: `${db}_owner`, app: `${db}_app` }]));
}

/**
 * The database of the `mariadb` profile (deploy/initdb/mariadb, examples/mariadb): the logical name
 * (secret file prefix) and its init script's settings; it has an owner and no app role.
 */
export const MARIADB_DATABASES = Object.freeze(['inventory']);

export function defaultMariadbNames() {
  return Object.fromEntries(MARIADB_DATABASES.map((db) => [db, { db, owner: `${db}_owner` }]));
}

/** The contract's names with `_<suffix>` appended: for a shared server (tests, BERTH_START_PG_URL). */
export function suffixedNames(suffix = randomBytes(4).toString('hex')) {
  return Object.fromEntries(
    DATABASES.map((db) => [db, { db: `${db}_${suffix}`, owner: `${db}_owner_${suffix}`, app: `${db}_app_${suffix}` }]),
  );
}

/**
 * An init script's name settings (USERS_DB, USERS_OWNER, USERS_APP, ..., INVENTORY_DB, ...) for `names`.
 * @param {Record<string, {db: string, owner: string, app?: string}>} names
 */
export function nameSettings(names) {
  const env = {};
  for (const [db, { db: database, owner, app }] of Object.entries(names)) {
    const upper = db.toUpperCase();
    env[`${upper}_DB`] = database;
    env[`${upper}_OWNER`] = owner;
    if (app !== undefined) env[`${upper}_APP`] = app;
  }
  return env;
}

/**
 * Writes the secret files compose.yaml mounts, as deploy/compose/secrets/generate.sh does: random
 * 32-character [A-Za-z0-9] passwords for the superuser and the four roles, and the owner/app URLs
 * built from them, `postgres://<role>:<password>@<host>/<db>`, one value per file with a trailing
 * newline. `host` is the local server (`127.0.0.1:5432`) rather than Compose's `postgres:5432`;
 * `names` may differ from the defaults (the file names stay `users_owner_url`, ...).
 * The `mariadb` profile's files likewise: its root and owner passwords and
 * `mysql://<owner>:<password>@<mariadb.host>/<db>`; without `mariadb.host`, Compose's
 * `mariadb:3306`, as generate.sh writes it (only the profile reads these files).
 * Directory 0700, files 0600 (local processes run as this user).
 *
 * @param {string} dir
 * @param {{
 *   host: string, names?: ReturnType<typeof defaultNames>, superuserPassword?: string,
 *   mariadb?: { host?: string, names?: ReturnType<typeof defaultMariadbNames> },
 * }} options
 * @returns {{ dir: string, names: ReturnType<typeof defaultNames>, mariadbNames: ReturnType<typeof defaultMariadbNames>, files: string[] }}
 */
export function writeSecrets(dir, { host, names = defaultNames(), superuserPassword, mariadb = {} }) {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  const files = [];
  const write = (name, value) => {
    writeFileSync(path.join(dir, name), `${value}\n`, { mode: 0o600 });
    files.push(name);
  };
  write('postgres_password', superuserPassword ?? randomPassword());
  const passwords = {};
  for (const db of DATABASES) {
    for (const role of ['owner', 'app']) {
      passwords[`${db}_${role}`] = randomPassword();
      write(`${db}_${role}_password`, passwords[`${db}_${role}`]);
    }
  }
  for (const db of DATABASES) {
    for (const role of ['owner', 'app']) {
      write(`${db}_${role}_url`, `postgres://${names[db][role]}:${passwords[`${db}_${role}`]}@${host}/${names[db].db}`);
    }
  }
  const { host: mariadbHost = hostKey('mariadb', 3306), names: mariadbNames = defaultMariadbNames() } = mariadb;
  write('mariadb_root_password', randomPassword());
  for (const db of MARIADB_DATABASES) {
    const password = randomPassword();
    write(`${db}_owner_password`, password);
    write(`${db}_owner_url`, `mysql://${mariadbNames[db].owner}:${password}@${mariadbHost}/${mariadbNames[db].db}`);
  }
  return { dir, names, mariadbNames, files };
}

/** 32 characters of [A-Za-z0-9], like generate.sh (no URL encoding needed). */
function randomPassword() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  while (out.length < 32) {
    for (const byte of randomBytes(48)) {
      // 62 * 4 = 248: reject the top bytes so every character is equally likely.
      if (byte < 248 && out.length < 32) out += alphabet[byte % 62];
    }
  }
  return out;
}

/**
 * Reads the Compose file and sorts its services into the roles the system needs.
 *
 * @param {{ file?: string, profiles?: string[] }} [options]  `profiles`: those to enable, as `docker compose --profile`
 * @returns {System}
 *
 * @typedef {object} System
 * @property {string} file   absolute path of the Compose file
 * @property {string} dir    its directory (relative paths in it are relative to this)
 * @property {string[]} profiles  the profiles asked for
 * @property {Record<string, any>} services  the raw `services` map, without the services of profiles not asked for
 * @property {DatabaseService} postgres  the PostgreSQL service
 * @property {DatabaseService | undefined} mariadb  the MariaDB service (profile `mariadb`)
 * @property {{ name: string, app: string | undefined }[]} migrators  one-shot services: those an app waits for (`service_completed_successfully`), and any other that runs `berth migrate`
 * @property {{ name: string, replicas: number, migrator: string | undefined, packageDir: string }[]} apps  the long-running services
 *
 * @typedef {{ name: string, initScripts: string[] }} DatabaseService  a database service and its init scripts (local paths, in run order)
 */
export function readSystem({ file = COMPOSE_FILE, profiles = [] } = {}) {
  const text = readFileSync(file, 'utf8');
  const doc = YAML.parse(text, { uniqueKeys: true, merge: true });
  const declared = doc?.services;
  if (!declared || typeof declared !== 'object') throw new Error(`${file}: no services`);
  const dir = path.dirname(file);
  const services = Object.fromEntries(Object.entries(declared).filter(([, service]) => enabled(service, profiles)));
  for (const [name, service] of Object.entries(services)) {
    for (const dependency of Object.keys(dependsOn(service))) {
      if (services[dependency]) continue;
      const why = declared[dependency] ? `only in profile ${list(declared[dependency].profiles, dependency).join(', ')}, not asked for` : 'not a service';
      throw new Error(`${file}: ${name} depends on ${dependency}, which is ${why}`);
    }
  }

  const postgres = databaseService(file, dir, services, 'postgres');
  if (!postgres) throw new Error(`${file}: expected one service with a postgres image, found none`);
  const mariadb = databaseService(file, dir, services, 'mariadb');
  const databases = new Set([postgres.name, mariadb?.name]);

  const migrators = [];
  for (const [name, service] of Object.entries(services)) {
    if (databases.has(name)) continue;
    const app = Object.keys(services).find((other) => dependsOn(services[other])[name] === 'service_completed_successfully');
    const argv = [...list(service.entrypoint, `${name}.entrypoint`), ...list(service.command, `${name}.command`)];
    if (app !== undefined || (argv[0] === 'berth' && argv[1] === 'migrate')) migrators.push({ name, app });
  }
  const migratorNames = new Set(migrators.map((m) => m.name));
  const apps = [];
  for (const [name, service] of Object.entries(services)) {
    if (databases.has(name) || migratorNames.has(name)) continue;
    apps.push({
      name,
      replicas: Number(service.deploy?.replicas ?? 1),
      migrator: migrators.find((m) => m.app === name)?.name,
      packageDir: packageDir(name, service, dir),
    });
  }
  return { file, dir, profiles, services, postgres, mariadb, migrators, apps };
}

/**
 * The local process for one Compose service.
 *
 * @param {System} system
 * @param {string} name  a service of the Compose file
 * @param {object} context
 * @param {string} context.secretsDir  holds a file per secret (`writeSecrets`)
 * @param {Record<string, string>} [context.hosts]  `service:port` -> local `host:port`
 * @param {{ host: string, port: number }} [context.listen]  sets HOST and PORT (only for a service whose environment declares PORT)
 * @param {Record<string, string | undefined>} [context.env]  added last; `undefined` removes a variable
 * @returns {LocalProcess}
 *
 * @typedef {object} LocalProcess
 * @property {string} service  the Compose service
 * @property {string} command  process.execPath
 * @property {string[]} args
 * @property {string} cwd
 * @property {Record<string, string>} env  the complete environment
 */
export function serviceProcess(system, name, context) {
  const service = system.services[name];
  if (!service) throw new Error(`${system.file}: no service ${name}`);
  const paths = pathMap(system, name, context.secretsDir);
  const workingDir = service.working_dir;
  const argv = [...list(service.entrypoint, `${name}.entrypoint`), ...list(service.command, `${name}.command`)];
  if (argv.length === 0) throw new Error(`${system.file}: ${name} has neither entrypoint nor command`);

  const [executable, ...rest] = argv;
  let args;
  if (executable === 'node') {
    // The script: relative to the container's working directory.
    const [script, ...scriptArgs] = rest;
    if (!script) throw new Error(`${system.file}: ${name} runs node without a script`);
    const absolute = path.posix.isAbsolute(script) ? script : path.posix.join(workingDir ?? '/', script);
    args = [mapPath(absolute, paths, `${name}.command`, true), ...scriptArgs.map((a) => mapArg(a, paths))];
  } else {
    args = [binOf(executable, packageDir(name, service, system.dir), name), ...rest.map((a) => mapArg(a, paths))];
  }

  const env = {};
  for (const key of INHERITED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key];
  const declared = environment(service, name);
  for (const [key, value] of Object.entries(declared)) {
    env[key] = mapHosts(mapArg(value, paths), system, context.hosts ?? {}, `${name}.environment.${key}`);
  }
  if (context.listen) {
    if (!('PORT' in declared)) throw new Error(`${system.file}: ${name} declares no PORT; it does not listen`);
    env.HOST = context.listen.host;
    env.PORT = String(context.listen.port);
  }
  for (const [key, value] of Object.entries(context.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }

  for (const secret of secretNames(service, name)) {
    const file = path.join(context.secretsDir, secret);
    if (!existsSync(file)) throw new Error(`${name} needs the secret ${secret}: ${file} does not exist`);
  }

  return {
    service: name,
    command: process.execPath,
    args,
    cwd: workingDir ? mapPath(workingDir, paths, `${name}.working_dir`, true) : packageDir(name, service, system.dir),
    env,
  };
}

/**
 * The init scripts of a database service (`database`: `postgres`, or `mariadb` with its profile),
 * run against a local server as the image runs them (bash, as the superuser, with the service's
 * `environment`: the passwords as `_FILE`s); `env` adds the name settings (USERS_DB, ...,
 * INVENTORY_DB, ...). The admin URL stands in for what the image gives its scripts:
 * - postgres: PGHOST/PGPORT/PGPASSWORD, POSTGRES_USER and POSTGRES_DB;
 * - mariadb: the client's MYSQL_HOST/MYSQL_TCP_PORT (the image's scripts use its socket),
 *   MARIADB_ADMIN_USER and MARIADB_ROOT_PASSWORD (the image's, from MARIADB_ROOT_PASSWORD_FILE).
 * The image's own superuser password setting is dropped: it is for the image's initdb, and locally
 * the server exists already.
 *
 * @param {System} system
 * @param {{ database?: 'postgres' | 'mariadb', secretsDir: string, adminUrl: string, env?: Record<string, string> }} context
 * @returns {(LocalProcess & { script: string })[]}
 */
export function initProcesses(system, { database = 'postgres', secretsDir, adminUrl, env: extra = {} }) {
  const db = system[database];
  if (!db) throw new Error(`${system.file}: no ${database} service in the profiles asked for (${system.profiles.join(', ') || 'none'})`);
  const service = system.services[db.name];
  const paths = pathMap(system, db.name, secretsDir);
  const admin = new URL(adminUrl);
  const user = decodeURIComponent(admin.username);
  const password = decodeURIComponent(admin.password);
  const env = {};
  for (const key of INHERITED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key];
  for (const [key, value] of Object.entries(environment(service, db.name))) env[key] = mapArg(value, paths);
  if (database === 'postgres') {
    delete env.POSTGRES_PASSWORD;
    delete env.POSTGRES_PASSWORD_FILE;
    Object.assign(env, {
      PGHOST: admin.hostname,
      PGPORT: admin.port || '5432',
      POSTGRES_USER: user || 'postgres',
      POSTGRES_DB: decodeURIComponent(admin.pathname.slice(1)) || 'postgres',
      ...(password && { PGPASSWORD: password }),
    });
  } else {
    delete env.MARIADB_ROOT_PASSWORD_FILE;
    Object.assign(env, { MYSQL_HOST: admin.hostname, MYSQL_TCP_PORT: admin.port || '3306', MARIADB_ADMIN_USER: user || 'root', MARIADB_ROOT_PASSWORD: password });
  }
  Object.assign(env, extra);
  return db.initScripts.map((script) => {
    if (!script.endsWith('.sh')) throw new Error(`${system.file}: init script ${script}: only .sh scripts are supported locally`);
    return { service: db.name, script, command: 'bash', args: [script], cwd: path.dirname(script), env };
  });
}

/** The `host:port` key of `hosts` for a Compose service's container port. */
export const hostKey = (service, port) => `${service}:${port}`;

// --- helpers -----------------------------------------------------------------------------------

/** As Compose decides: a service without `profiles` always runs, one with them when one is asked for. */
function enabled(service, profiles) {
  const own = service.profiles ?? [];
  return own.length === 0 || own.some((profile) => profiles.includes(profile));
}

/** The one service with `kind`'s image (undefined when there is none), and its init scripts. */
function databaseService(file, dir, services, kind) {
  const names = Object.keys(services).filter((name) => DATABASE_IMAGES[kind].test(String(services[name].image ?? '')));
  if (names.length > 1) throw new Error(`${file}: expected one service with a ${kind} image, found ${names.length}`);
  if (names.length === 0) return undefined;
  const initScripts = bindMounts(services[names[0]], dir)
    .filter((mount) => mount.target.startsWith(INITDB_DIR))
    .sort((a, b) => a.target.localeCompare(b.target))
    .map((mount) => mount.source);
  return { name: names[0], initScripts };
}

function list(value, where) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${where}: use the exec form (a list), not a shell string`);
  return value.map(String);
}

function environment(service, name) {
  if (service.env_file) throw new Error(`${name}: env_file is not supported locally; write the variables under environment`);
  const raw = service.environment ?? {};
  const out = {};
  const entries = Array.isArray(raw)
    ? raw.map((item) => {
        const text = String(item);
        const at = text.indexOf('=');
        return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
      })
    : Object.entries(raw);
  for (const [key, value] of entries) {
    if (value === undefined || value === null) throw new Error(`${name}.environment.${key}: a value taken from the host's environment is not supported locally`);
    const text = String(value);
    if (text.includes('${')) throw new Error(`${name}.environment.${key}: variable interpolation is not supported locally`);
    out[key] = text;
  }
  return out;
}

function dependsOn(service) {
  const raw = service.depends_on ?? {};
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((n) => [n, 'service_started']));
  return Object.fromEntries(Object.entries(raw).map(([n, v]) => [n, v?.condition ?? 'service_started']));
}

function secretNames(service, name) {
  return (service.secrets ?? []).map((secret) => {
    if (typeof secret === 'string') return secret;
    if (secret.target && secret.target !== secret.source) throw new Error(`${name}.secrets: a target other than the source is not supported locally`);
    return secret.source;
  });
}

function bindMounts(service, dir) {
  return (service.volumes ?? [])
    .map((volume) => {
      if (typeof volume === 'string') {
        const [source, target] = volume.split(':');
        return /^[./~]/.test(source) ? { source: path.resolve(dir, source), target } : undefined;
      }
      return volume.type === 'bind' ? { source: path.resolve(dir, volume.source), target: volume.target } : undefined;
    })
    .filter(Boolean);
}

/** Container prefix -> local path, longest prefix first. */
function pathMap(system, name, secretsDir) {
  const service = system.services[name];
  const entries = bindMounts(service, system.dir).map((m) => [m.target, m.source]);
  for (const secret of secretNames(service, name)) entries.push([`/run/secrets/${secret}`, path.join(secretsDir, secret)]);
  if (service.working_dir) entries.push([service.working_dir, packageDir(name, service, system.dir)]);
  return entries.sort((a, b) => b[0].length - a[0].length);
}

function mapPath(value, paths, where, required = false) {
  for (const [prefix, local] of paths) {
    if (value === prefix) return local;
    if (value.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)) return path.join(local, value.slice(prefix.length));
  }
  if (required) throw new Error(`${where}: no local path for the container path ${value}`);
  return value;
}

/** Maps `/x` and `--flag=/x`; leaves anything else alone. */
function mapArg(value, paths) {
  const match = /^(--[^=]+=)?(\/.*)$/.exec(value);
  return match ? `${match[1] ?? ''}${mapPath(match[2], paths, '')}` : value;
}

function mapHosts(value, system, hosts, where) {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)([^/?#]+)/i, (whole, prefix, host) => {
    if (hosts[host]) return `${prefix}${hosts[host]}`;
    const hostname = host.replace(/:\d+$/, '');
    if (system.services[hostname]) throw new Error(`${where}: ${value} names the Compose service ${host}, and no local address was given for it`);
    return whole;
  });
}

/** The directory of the service's Dockerfile: the package its image is built from. */
function packageDir(name, service, dir) {
  const build = service.build;
  if (!build) throw new Error(`${name}: no build section; cannot tell which package it runs`);
  const context = path.resolve(dir, typeof build === 'string' ? build : build.context ?? '.');
  const dockerfile = typeof build === 'string' ? 'Dockerfile' : build.dockerfile ?? 'Dockerfile';
  return path.dirname(path.resolve(context, dockerfile));
}

/** `berth` -> <package>/bin/berth.js, from the package.json `bin` of the image's package. */
function binOf(executable, pkgDir, name) {
  const manifest = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const bin = typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : manifest.bin ?? {};
  if (!bin[executable]) throw new Error(`${name}: runs ${executable}, which is not a bin of ${path.relative(REPO_ROOT, pkgDir)}/package.json`);
  return path.join(pkgDir, bin[executable]);
}
