import type { ErrorFamily, ServerErrorInfo } from '../driver.js';

/**
 * The family of a PostgreSQL error, from its SQLSTATE (PostgreSQL's Appendix A). Only this file
 * reads SQLSTATEs for meaning; core branches on the family.
 */
export function postgresErrorFamily(info: Pick<ServerErrorInfo, 'sqlState' | 'message'>): ErrorFamily {
  const state = info.sqlState ?? '';
  switch (state) {
    case '42601': // syntax_error, also the lexer's (unterminated string or comment)
      return 'syntax';
    case '42501': // insufficient_privilege
      return 'privilege';
    case '25006': // read_only_sql_transaction
      return 'read-only';
    case '25001': // active_sql_transaction: CREATE INDEX CONCURRENTLY, VACUUM... in a transaction
      return 'needs-no-transaction';
    case '55P03': // lock_not_available: lock_timeout, NOWAIT
      return 'lock-timeout';
    case '57014': // query_canceled: statement_timeout, or a cancel request
      return /statement timeout/i.test(info.message) ? 'statement-timeout' : 'canceled';
  }
  switch (state.slice(0, 2)) {
    case '40': // transaction_rollback: serialization_failure, deadlock_detected
      return 'conflict';
    case '53': // insufficient_resources: disk full, out of memory, too many connections
    case '57': // operator_intervention (the session-ending ones are a lost connection instead)
    case '58': // system_error: I/O
    case 'XX': // internal_error, data_corrupted
    case 'F0': // config_file_error
      return 'server';
    default:
      return 'statement';
  }
}
