// Trains the CLI's V8 code cache (see bin/load-cli.js): runs the commands every pod start runs,
// then saves the code V8 compiled for them next to the bundle. It needs no database: the runs
// go as far as connecting to a closed port, which compiles berth's start-up, configuration,
// migration reading and pg's client up to the connection. Run by build.mjs; deterministic.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { CODE_CACHE, loadCli } from '../bin/load-cli.js';

const cli = loadCli();
const work = mkdtempSync(path.join(tmpdir(), 'berth-train-'));
try {
  const dir = path.join(work, 'migrations');
  mkdirSync(dir);
  writeFileSync(path.join(dir, '0001_users.up.sql'), 'CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n');
  writeFileSync(path.join(dir, '0001_users.down.sql'), 'DROP TABLE users;\n');
  writeFileSync(path.join(dir, '0002_index.up.sql'), '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n');

  const sink = { write: () => true, on: () => sink };
  // No `tune`: V8 flags set during training would stamp the cache with flags no start-up has.
  const io = { stdout: sink, stderr: sink, env: {}, cwd: work, stdoutIsTTY: false, stderrIsTTY: false };
  const closedPort = ['--database-url', `postgres://berth:secret@127.0.0.1:${await freedPort()}/train`, '--dir', dir];
  await cli.runCli(['--help'], io);
  await cli.runCli(['--version'], io);
  for (const command of ['migrate', 'status', 'check']) {
    const code = await cli.runCli([command, ...closedPort, '--log-format', 'json'], io);
    // 3: the database could not be reached, as intended. Anything else means the run did not go
    // where the cache is meant to cover: the cache still works, it just covers less.
    if (code !== 3) console.warn(`train-code-cache: "berth ${command}" exited ${code}, expected 3 (unreachable); the code cache covers less`);
  }
  writeFileSync(CODE_CACHE, cli.createCachedData());
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** A local port that was just free: connecting to it is refused at once. */
function freedPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
