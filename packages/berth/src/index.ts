/**
 * The public surface of berth: `createMigrator`, the error classes and the types they use.
 * Everything else is internal; the package's `exports` map hides it.
 */
export { createMigrator, DEFAULT_DIR, DEFAULT_TABLE, DEFAULT_LOCK_TIMEOUT_MS } from './core/migrator.js';
export type {
  Migrator, MigratorOptions, LockMode, ProgressSnapshot, MigrationInProgress, SessionActivity, UpOptions, BackupOptions, UpResult, PlannedMigration, ApplyTarget, DownResult, HistoryChangeReport, AwaitOptions, AwaitResult, AppliedMigration, StatusReport, StatusEntry, CheckResult,
} from './core/migrator.js';
export type { BerthEvent, EventListener } from './core/events.js';
export type { DownTarget } from './core/plan.js';
export type { BaselineFrom, ForeignTool } from './core/adopt.js';
export type { MigrationContext } from './core/apply.js';
export type { LockHolder, LeaseHolder, HistoryStatus } from './drivers/driver.js';
export type { SslMode } from './config/database-url.js';
export {
  BerthError, MigrationFailedError, ConfigError, UnreachableError, LockTimeoutError, ValidationError,
  TargetRejectedError, OutcomeUnknownError, BackupFailedError, InterruptedError, InternalError, ERROR_CODES,
} from './errors.js';
export type { ExitCode, ErrorCode } from './errors.js';
export { BERTH_VERSION } from './version.js';
export { createFleet, defaultParallelism, queryTargets } from './core/fleet/fleet.js';
export type { Fleet, FleetOptions, FleetRun, FleetEvent } from './core/fleet/fleet.js';
export { parseTargetList, buildTargets, targetListFromRows, withCredentials } from './core/fleet/targets.js';
export type { FleetTarget, TargetList, BuildTargetsInput } from './core/fleet/targets.js';
export { shardOf, takeShard, parseShard } from './core/fleet/shard.js';
export type { Shard } from './core/fleet/shard.js';
export { EXIT_SEVERITY, mostSevere, summarizeFleet, TARGET_OUTCOMES } from './core/fleet/report.js';
export type { FleetReport, TargetResult, TargetOutcome } from './core/fleet/report.js';
export { parseDatabaseUrl, driverFor } from './drivers/registry.js';
export type { DatabaseTarget } from './config/database-url.js';
/** The durations berth's flags take (`500ms`, `30s`, `5m`, `1h`, bare seconds), for a host's own settings. */
export { parseDuration, formatDuration } from './duration.js';
export { describeHolder as describeLockHolder } from './core/lock.js';
export { describeLease } from './core/lease.js';
