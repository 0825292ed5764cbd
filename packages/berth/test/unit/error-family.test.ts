import { describe, expect, it } from 'vitest';
import { postgresErrorFamily } from '../../src/drivers/postgres/error-family.js';

describe('postgresErrorFamily', () => {
  it.each([
    ['42601', 'syntax error at or near "NUL"', 'syntax'],
    ['42501', 'permission denied for schema public', 'privilege'],
    ['25006', 'cannot execute INSERT in a read-only transaction', 'read-only'],
    ['25001', 'CREATE INDEX CONCURRENTLY cannot run inside a transaction block', 'needs-no-transaction'],
    ['55P03', 'canceling statement due to lock timeout', 'lock-timeout'],
    ['57014', 'canceling statement due to statement timeout', 'statement-timeout'],
    ['57014', 'canceling statement due to user request', 'canceled'],
    ['40001', 'could not serialize access due to concurrent update', 'conflict'],
    ['40P01', 'deadlock detected', 'conflict'],
    ['53100', 'could not extend file: No space left on device', 'server'],
    ['58030', 'could not read block', 'server'],
    ['XX000', 'internal error', 'server'],
    ['42P01', 'relation "x" does not exist', 'statement'],
    ['23505', 'duplicate key value violates unique constraint', 'statement'],
    ['22P02', 'invalid input syntax for type integer', 'statement'],
  ])('%s (%s) is %s', (sqlState, message, family) => {
    expect(postgresErrorFamily({ sqlState, message })).toBe(family);
  });
});
