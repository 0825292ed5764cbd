#!/usr/bin/env node
// The least a Node.js program can do for figure (b), a no-op `migrate` that still checks every
// checksum: read and sha256 every migration file, open one connection, ask the server in one
// query whether berth's history holds exactly those versions and checksums, exit 0 if it does.
// No library, no config, no validation of names or encodings, no error handling beyond the exit
// code: the PostgreSQL protocol is spoken by hand (trust authentication only), and the file is
// CommonJS so Node does not set up its ES module loader. Nothing built on Node can be faster, so
// berth's ratio to this is what berth itself adds.
//
//   node bench/runners/node-floor.cjs <postgres-url> <berth-migrations-dir>
'use strict';
const { createHash } = require('node:crypto');
const { readdirSync, readFileSync } = require('node:fs');
const { connect } = require('node:net');

const [url, dir] = process.argv.slice(2);
if (!url || !dir) {
  console.error('usage: node-floor.cjs <postgres-url> <berth-migrations-dir>');
  process.exit(2);
}
const target = new URL(url);

const lines = readdirSync(dir)
  .filter((name) => name.endsWith('.up.sql'))
  .map((name) => ({ version: Number.parseInt(name, 10), file: `${dir}/${name}` }))
  .sort((a, b) => a.version - b.version)
  .map((m) => `${m.version} applied ${createHash('sha256').update(readFileSync(m.file)).digest('hex')}`);

/** One protocol message: type byte (none for the start-up message), length, body. */
function message(type, body) {
  const head = Buffer.alloc(type ? 5 : 4);
  if (type) head.write(type);
  head.writeInt32BE(body.length + 4, type ? 1 : 0);
  return Buffer.concat([head, body]);
}

const protocol30 = Buffer.alloc(4);
protocol30.writeInt32BE(196608);
const startup = Buffer.concat([protocol30, Buffer.from(`user\0${decodeURIComponent(target.username)}\0database\0${target.pathname.slice(1)}\0\0`)]);
const query = `SELECT coalesce(string_agg(version || ' ' || status || ' ' || checksum, E'\\n' ORDER BY version), '') = '${lines.join('\n')}' FROM berth_migrations`;

const socket = connect(Number(target.port || 5432), target.hostname);
socket.write(message('', startup));
let pending = Buffer.alloc(0);
let queried = false;
process.exitCode = 1;
socket.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  // Walk the complete messages: 'E' is an error, 'D' the answer row, 'Z' ready for a query.
  while (pending.length >= 5 && pending.length >= 1 + pending.readInt32BE(1)) {
    const type = String.fromCharCode(pending[0]);
    const body = pending.subarray(5, 1 + pending.readInt32BE(1));
    pending = pending.subarray(1 + pending.readInt32BE(1));
    if (type === 'E' || (type === 'R' && body.readInt32BE(0) !== 0)) {
      const text = body.toString('utf8').split('\0').find((field) => field.startsWith('M'))?.slice(1);
      console.error(`server refused: ${type === 'R' ? 'it asks for a password (only trust authentication is spoken here)' : text}`);
      socket.destroy();
      return;
    }
    if (type === 'D') process.exitCode = body.toString('latin1', 6) === 't' ? 0 : 1;
    if (type === 'Z' && !queried) {
      queried = true;
      socket.write(message('Q', Buffer.from(`${query}\0`)));
    } else if (type === 'Z') {
      socket.end(message('X', Buffer.alloc(0)));
    }
  }
});
socket.on('error', (err) => {
  console.error(err.message);
  process.exitCode = 1;
});
