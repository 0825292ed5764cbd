/**
 * Durations as operators write them in flags, environment variables and `-- berth:` directives
 * (SPEC §2: `500ms`, `30s`, `5m`, `1h`, or a bare number of seconds). Parsed once, here; the
 * rest of berth only ever sees milliseconds (STYLE §7).
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

// No sign (a negative wait or timeout is always a mistake), no exponent (`1e3` is more likely a
// typo than intent), lower-case units only (`5M` could mean months to someone).
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?$/;

/**
 * `"30s"` → `30000`. A bare number is seconds, because that is what `--wait 10` means to anyone
 * coming from `wait-for-it.sh -t 10` or `timeout 10`. Returns `undefined` for anything that is
 * not a duration, so each caller can name the key or file line in its own error.
 *
 * The result is a whole number of milliseconds: PostgreSQL's `lock_timeout` and
 * `statement_timeout` take integers, so `1.5ms` or `0.0001s` is refused rather than rounded to
 * a value the operator did not write (rounding `0.0001s` down to 0 would *disable* the timeout).
 */
export function parseDuration(input: string): number | undefined {
  const match = DURATION.exec(input.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  const unit = (match[2] ?? 's') as keyof typeof UNIT_MS;
  const ms = value * UNIT_MS[unit];
  const whole = Math.round(ms);
  // Binary floating point makes 1.1 * 1000 = 1100.0000000000002; that is still a whole number
  // of milliseconds as written.
  if (Math.abs(ms - whole) > 1e-6) return undefined;
  if (!Number.isSafeInteger(whole)) return undefined;
  return whole;
}

/**
 * `1500` → `"1.5s"`, `250` → `"250ms"`, `120000` → `"2m"`, for log lines and messages. The output
 * parses back to the same value with `parseDuration`, so a message can quote it as something to
 * type.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  const whole = Math.round(ms);
  // Hours and minutes only when at most one decimal is needed: "1.5h" reads well, "1.0166m" does not.
  for (const unit of ['h', 'm'] as const) {
    const size = UNIT_MS[unit];
    if (whole >= size && (whole * 10) % size === 0) return `${whole / size}${unit}`;
  }
  // Any whole number of milliseconds is exact in seconds with up to three decimals.
  if (whole >= 1_000) return `${whole / 1_000}s`;
  return `${whole}ms`;
}
