import { describe, expect, it } from 'vitest';

import { maskUrlCredentials, redactSecrets } from '../../src/config/database-url.js';
import type { PgliteTarget } from '../../src/drivers/pglite/url.js';
import type { PostgresTarget } from '../../src/drivers/postgres/url.js';
import { parseDatabaseUrl } from '../../src/drivers/registry.js';
import { ConfigError } from '../../src/errors.js';

const pg = (url: string): PostgresTarget => {
  const target = parseDatabaseUrl(url);
  expect(target.kind).toBe('postgres');
  return target as PostgresTarget;
};

/** The error a URL is refused with; it must be a ConfigError with the stable code. */
function refusal(url: string, origin?: string): ConfigError {
  let caught: unknown;
  try {
    if (origin === undefined) parseDatabaseUrl(url);
    else parseDatabaseUrl(url, origin);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${JSON.stringify(url)} to be refused`).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.code).toBe('ERR_CONFIG_URL_INVALID');
  expect(error.exitCode).toBe(2);
  return error;
}

/** Everything an error could leak through when it is logged or serialised. */
const everything = (error: ConfigError): string =>
  [error.message, error.stack ?? '', JSON.stringify(error.toJSON()), String(error.cause ?? '')].join('\n');

describe('parseDatabaseUrl: postgres', () => {
  it.each([
    ['postgres://app:pw@db.internal:6432/orders', { host: 'db.internal', port: 6432, database: 'orders', user: 'app', password: 'pw' }],
    ['postgresql://app:pw@db/orders', { host: 'db', port: 5432, database: 'orders', user: 'app', password: 'pw' }],
    ['POSTGRES://app@db/orders', { host: 'db', port: 5432, database: 'orders', user: 'app', password: undefined }],
    ['postgres://db', { host: 'db', port: 5432, database: 'postgres', user: 'postgres', password: undefined }],
    ['postgres://app@db', { host: 'db', port: 5432, database: 'app', user: 'app', password: undefined }],
    ['postgres://app@db/', { host: 'db', port: 5432, database: 'app', user: 'app', password: undefined }],
    ['postgres://', { host: 'localhost', port: 5432, database: 'postgres', user: 'postgres', password: undefined }],
    ['  postgres://app@db/orders\n', { host: 'db', port: 5432, database: 'orders', user: 'app', password: undefined }],
  ])('%j', (url, expected) => {
    expect(pg(url)).toMatchObject(expected);
  });

  it('decodes a percent-encoded user, password and database', () => {
    const t = pg('postgres://us%40er%3Aname:p%40ss%3Aw%2Frd%25%20x%23y@db/my%20db');
    expect(t.user).toBe('us@er:name');
    expect(t.password).toBe('p@ss:w/rd% x#y');
    expect(t.database).toBe('my db');
  });

  it('keeps a password with unicode and sub-delims', () => {
    expect(pg(`postgres://app:${encodeURIComponent('pä$$wörd!*()=;,')}@db/app`).password).toBe('pä$$wörd!*()=;,');
  });

  it.each([
    ['postgres://app:pw@[::1]:5433/app', '::1', 5433],
    ['postgres://app@[2001:db8::42]/app', '2001:db8::42', 5432],
  ])('IPv6 host %j → host %j without brackets', (url, host, port) => {
    const t = pg(url);
    expect(t.host).toBe(host);
    expect(t.port).toBe(port);
    // The redacted form is a URL again, with exactly one pair of brackets.
    expect(t.redacted).toContain(`@[${host}]:${port}/`);
    expect(pg(t.redacted).host).toBe(host);
  });

  it.each(['disable', 'require', 'verify-ca', 'verify-full'] as const)('reads ?sslmode=%s', (mode) => {
    const t = pg(`postgres://app@db/app?sslmode=${mode}&sslrootcert=/etc/ca.pem`);
    expect(t.sslmode).toBe(mode);
    expect(t.sslrootcert).toBe('/etc/ca.pem');
    expect(t.params).toEqual({});
  });

  it('takes password, user, host and port from the query, as libpq does', () => {
    const t = pg('postgres:///orders?user=app&password=s%26cret&host=%2Fvar%2Frun%2Fpostgresql&port=5433');
    expect(t).toMatchObject({ user: 'app', password: 's&cret', host: '/var/run/postgresql', port: 5433, database: 'orders' });
    expect(t.params).toEqual({});
  });

  it('?password= in the query wins over the one in the user info', () => {
    expect(pg('postgres://app:old@db/app?password=new').password).toBe('new');
  });

  it('passes other query parameters through, without the password', () => {
    const t = pg('postgres://app:pw@db/app?application_name=x&connect_timeout=5&password=q');
    expect(t.params).toEqual({ application_name: 'x', connect_timeout: '5' });
  });

  it('returns a frozen target', () => {
    const t = pg('postgres://app:pw@db/app?application_name=x');
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.params)).toBe(true);
  });
});

describe('parseDatabaseUrl: redacted', () => {
  it.each([
    ['postgres://app:pw@db:6432/orders', 'postgres://app:****@db:6432/orders'],
    ['postgresql://app@db/orders', 'postgres://app@db:5432/orders'],
    ['postgres://us%40er:secret@db/app?sslmode=require&application_name=x', 'postgres://us%40er:****@db:5432/app?application_name=x&sslmode=require'],
    ['postgres://app@db/app?password=secret', 'postgres://app:****@db:5432/app'],
  ])('%j → %j', (url, redacted) => {
    expect(pg(url).redacted).toBe(redacted);
  });

  const passwords = [
    'hunter2',
    'p@ss:w/rd',
    'with space',
    '%41%42',
    'pä$$wörd',
    '****secret',
    'db',
    'app',
  ];

  it.each(passwords)('never contains the password %j, plain or percent-encoded', (password) => {
    const encoded = encodeURIComponent(password);
    for (const url of [
      `postgres://someone:${encoded}@db.example:5432/orders`,
      `postgres://someone@db.example:5432/orders?password=${encoded}`,
      `postgresql://someone:${encoded}@db.example/orders?sslmode=require&application_name=svc`,
    ]) {
      const t = pg(url);
      expect(t.password).toBe(password);
      // Short passwords that equal another field ("db", "app") are legitimately present as that field;
      // the masked field itself must not be.
      expect(t.redacted).toContain('someone:****@');
      if (!['db', 'app'].includes(password)) {
        expect(t.redacted).not.toContain(password);
        expect(t.redacted).not.toContain(encoded);
      }
    }
  });

  it('parses back to the same target, minus the password', () => {
    const t = pg('postgres://us%40er:pw@db:6432/my%20db?sslmode=verify-full&application_name=x');
    const again = pg(t.redacted);
    expect({ ...again, password: undefined, redacted: undefined, secrets: [] }).toEqual({ ...t, password: undefined, redacted: undefined, sslrootcert: undefined, secrets: [] });
  });

  it('masks other secret parameters passed through (sslpassword)', () => {
    const t = pg('postgres://app@db/app?sslkey=/k.pem&sslpassword=KeyPassphrase99');
    expect(t.redacted).not.toContain('KeyPassphrase99');
  });
});

describe('parseDatabaseUrl: refusals never echo the input', () => {
  const SECRET = 'Sup3rS3cretPw';
  const cases: [string, RegExp][] = [
    [`postgres://app:${SECRET}@db:99999/app`, /not a well-formed URL/],
    [`postgres://app:${SECRET}@db:abc/app`, /not a well-formed URL/],
    [`postgres://app:${SECRET}@[::1/app`, /not a well-formed URL/],
    [`postgres://app:${SECRET}@d b/app`, /not a well-formed URL/],
    [`postgres://app:${SECRET}%zz@db/app`, /malformed percent-encoding/],
    [`postgres://app%E0%A4:${SECRET}@db/app`, /malformed percent-encoding/],
    [`postgres://app:${SECRET}@db/%E0%A4%A`, /malformed percent-encoding/],
    [`postgres://app:${SECRET}@db/app?port=0`, /port/],
    [`postgres://app:${SECRET}@db/app?port=70000`, /port/],
    [`postgres://app:${SECRET}@db/app?sslmode=prefer`, /sslmode=prefer .*plaintext/],
    [`postgres://app:${SECRET}@db/app?sslmode=allow`, /sslmode=allow .*plaintext/],
    [`postgres://app:${SECRET}@db/app?sslmode=verify_full`, /sslmode "verify_full" is not one of/],
    [`mysql://root:${SECRET}@tcp(db:3306)/app`, /tcp\(host:port\) form is a Go DSN/],
    [`mysql://root:${SECRET}@db:3306/app?ssl-mode=PREFERRED`, /plaintext/],
    [`cockroachdb://root:${SECRET}@db:26257/app`, /scheme "cockroachdb:" is not supported/],
    [`http://app:${SECRET}@db/app`, /scheme "http:" is not supported/],
    [`app:${SECRET}@db:5432/app`, /not supported|no scheme/],
    [`${SECRET}`, /no scheme/],
    [`//app:${SECRET}@db/app`, /no scheme/],
    [`${SECRET}:rest-of-the-secret`, /not supported|no scheme/],
  ];

  it.each(cases)('%j is refused: %s', (url, why) => {
    const error = refusal(url);
    expect(error.message).toMatch(why);
    expect(error.message).toContain('the value is not shown');
    // Case-insensitive: a scheme is lower-cased before it is quoted.
    const leaked = everything(error).toLowerCase();
    expect(leaked).not.toContain(SECRET.toLowerCase());
    expect(leaked).not.toContain(url.toLowerCase());
  });

  it.each(['', '   ', 'pglite:', 'pglite:/memory', 'pglite://'])('%j is refused', (url) => {
    refusal(url);
  });

  it('names where the URL came from', () => {
    const error = refusal(`postgres://app:${SECRET}@db:99999/app`, 'the database URL from DATABASE_URL_FILE');
    expect(error.message.startsWith('the database URL from DATABASE_URL_FILE cannot be used')).toBe(true);
  });
});

describe('parseDatabaseUrl: pglite', () => {
  it.each([
    ['pglite://memory', null],
    ['PGLITE://memory', null],
    ['pglite://./data/dev', './data/dev'],
    ['pglite:///var/lib/berth/dev', '/var/lib/berth/dev'],
    ['pglite://relative-dir', 'relative-dir'],
  ])('%j → dataDir %j', (url, dataDir) => {
    const t = parseDatabaseUrl(url) as PgliteTarget;
    expect(t.kind).toBe('pglite');
    expect(t.dataDir).toBe(dataDir);
    expect(t.redacted).toMatch(/^pglite:\/\//);
  });
});

describe('redactSecrets', () => {
  it('masks a given password wherever it appears, and its percent-encoded form', () => {
    const password = 'p@ss/w:rd';
    const text = `auth failed for "${password}" (url postgres://app:${encodeURIComponent(password)}@db/app); again ${password}`;
    const out = redactSecrets(text, [password]);
    expect(out).not.toContain(password);
    expect(out).not.toContain(encodeURIComponent(password));
    expect(out).toContain('auth failed for "****"');
  });

  it('ignores undefined and empty secrets', () => {
    expect(redactSecrets('nothing secret here', [undefined, ''])).toBe('nothing secret here');
  });

  it.each([
    ['could not connect to postgres://app:hunter2@db:5432/app', 'hunter2'],
    ['mysql://root:topsecret@mariadb:3306/orders failed', 'topsecret'],
    ['redis://:onlypass@cache:6379', 'onlypass'],
    ['both: postgres://a:pwone@h/x and postgresql://b:pwtwo@h/y', 'pwone'],
    ['both: postgres://a:pwone@h/x and postgresql://b:pwtwo@h/y', 'pwtwo'],
    ['stack:\n    at connect (postgres://svc:s3cr%21t@db/app)', 's3cr%21t'],
  ])('masks user:password@ in URL-like text: %j', (text, password) => {
    const out = redactSecrets(text, []);
    expect(out).not.toContain(password);
    expect(out).toContain(':****@');
  });

  it.each([
    'postgres://app@db:5432/app',
    'listening on http://0.0.0.0:8080/metrics',
    'pglite://memory',
    'user app at host db:5432',
  ])('leaves text without credentials unchanged: %j', (text) => {
    expect(redactSecrets(text, [])).toBe(text);
  });
});

describe('maskUrlCredentials: where a password stands, never elsewhere', () => {
  it.each([
    ['connected to postgres://postgres:postgres@db:5432/postgres', 'connected to postgres://postgres:****@db:5432/postgres'],
    ["host=db user=app password=s3cret dbname=app", 'host=db user=app password=**** dbname=app'],
    ["host=db password='two words' dbname=app", 'host=db password=**** dbname=app'],
    ['?sslmode=require&password=s3cret&x=1', '?sslmode=require&password=****&x=1'],
  ])('%j → %j', (text, masked) => {
    expect(maskUrlCredentials(text)).toBe(masked);
  });

  it("does not touch berth's own words, even when they equal the password", () => {
    // The password is "postgres": the scheme, the user, the database and the product name stay.
    const text = 'connected to postgres://postgres@127.0.0.1:5432/postgres (PostgreSQL 15.20)';
    expect(maskUrlCredentials(text)).toBe(text);
  });
});

