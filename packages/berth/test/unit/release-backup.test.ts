import { describe, expect, it } from 'vitest';
import { discoverRelease } from '../../src/cli/release.js';
import { backupWanted } from '../../src/core/backup.js';
import { driverFor, parseDatabaseUrl } from '../../src/drivers/registry.js';

describe('the release discovered from the pod name', () => {
  const k8s = { KUBERNETES_SERVICE_HOST: '10.96.0.1' };
  it.each([
    ['orders-migrate-42-x7k2p', 'orders-migrate-42'], // a Job's pod: the Job
    ['orders-7d9f8c6b5-bcd2z', 'orders-7d9f8c6b5'], // a Deployment's pod: its ReplicaSet (one pod template)
    ['migrate-2zb9q', 'migrate'],
  ])('%s -> %s', (hostname, release) => {
    expect(discoverRelease({ ...k8s, HOSTNAME: hostname })).toBe(release);
  });

  it.each([
    'orders-0', // a StatefulSet's pod: no random suffix
    'orders-migrate-abcde', // vowels are never in Kubernetes' random suffixes
    'build-server', 'db1', '3f2a9c1b7d4e', // a Compose container id
  ])('%s: nothing guessed', (hostname) => {
    expect(discoverRelease({ ...k8s, HOSTNAME: hostname })).toBeUndefined();
  });

  it('nothing outside Kubernetes, whatever the host name', () => {
    expect(discoverRelease({ HOSTNAME: 'orders-migrate-42-x7k2p' })).toBeUndefined();
  });
});

describe('--backup-when', () => {
  it.each([
    ['pending', 0, false, false], ['pending', 2, false, true],
    ['always', 0, false, true],
    ['no-transaction', 2, false, false], ['no-transaction', 2, true, true],
  ] as const)('%s with %d to apply (irreversible: %s): %s', (when, toApply, irreversible, wanted) => {
    expect(backupWanted({ dir: '/b', when }, toApply, irreversible)).toBe(wanted);
  });
  it('defaults to pending', () => {
    expect(backupWanted({ dir: '/b' }, 0, false)).toBe(false);
    expect(backupWanted({ dir: '/b' }, 1, false)).toBe(true);
  });
});

describe('the built-in backup clients', () => {
  it('pg_dump older than the server: which client to install', () => {
    const client = driverFor(parseDatabaseUrl('postgres://u@h/db')).backup!;
    // pg_dump 15's own words against a 16 server.
    const output = 'pg_dump: error: aborting because of server version mismatch\npg_dump: detail: server version: 16.4 (Debian 16.4-1.pgdg120+1); pg_dump version: 15.20 (Debian 15.20-0+deb12u1)';
    expect(client.explain(output)).toBe('pg_dump 15.20 cannot dump a PostgreSQL 16.4 server: install the client of major version 16 or newer');
    expect(client.explain('pg_dump: error: connection to server failed')).toBeUndefined();
  });

  it('credentials travel in files, never in arguments', () => {
    const pgTarget = parseDatabaseUrl('postgres://app:s3cr%3At@db:5433/orders');
    const pg = driverFor(pgTarget);
    const access = pg.access!(pgTarget);
    expect(access.env).toEqual({ PGHOST: 'db', PGPORT: '5433', PGDATABASE: 'orders', PGUSER: 'app' });
    expect(access.files).toEqual({ PGPASSFILE: '*:*:*:*:s3cr\\:t\n' });
    expect(pg.backup!.args(pgTarget, '/b/x.dump', {}).join(' ')).not.toContain('s3cr');
    const myTarget = parseDatabaseUrl('mysql://app:pa"ss@db:3307/shop');
    const my = driverFor(myTarget);
    expect(my.access!(myTarget).files.BERTH_MYSQL_DEFAULTS_FILE).toBe('[client]\nuser="app"\npassword="pa\\"ss"\nhost="db"\nport=3307\n');
    const args = my.backup!.args(myTarget, '/b/x.sql', { BERTH_MYSQL_DEFAULTS_FILE: '/tmp/x/cnf' });
    expect(args[0]).toBe('--defaults-extra-file=/tmp/x/cnf');
    expect(args.join(' ')).not.toContain('pa"ss');
  });
});
