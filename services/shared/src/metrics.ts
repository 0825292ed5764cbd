/**
 * Prometheus metrics of one app instance, on its own registry (so several apps can live in one
 * process, as in the tests):
 *
 * - `http_requests_total{method,route,status_code}` and
 *   `http_request_duration_seconds{method,route,status_code}`: `route` is the route pattern
 *   (`/users/:id`), or `unmatched` for 404s, so ids never become label values;
 * - `db_pool_connections`, `db_pool_idle_connections`, `db_pool_waiting_requests`: pg.Pool state;
 * - `berth_schema_version`: the newest applied migration (0: none), from the readiness check;
 * - prom-client's default process and Node.js metrics.
 */
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReadinessProbe } from './readiness.js';

/** Latency buckets (seconds): from a cached probe to a users-service call that retried. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ServiceMetrics {
  readonly registry: Registry;
  observeRequest(labels: { method: string; route: string; statusCode: number }, seconds: number): void;
}

export function createMetrics(service: string, pool: pg.Pool, readiness: ReadinessProbe): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });

  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered', labelNames, registers: [registry] });
  const latency = new Histogram({
    name: 'http_request_duration_seconds', help: 'Time from receiving a request to sending its response', labelNames,
    buckets: LATENCY_BUCKETS, registers: [registry],
  });

  new Gauge({ name: 'db_pool_connections', help: 'Connections in the pool (idle and in use)', registers: [registry], collect() { this.set(pool.totalCount); } });
  new Gauge({ name: 'db_pool_idle_connections', help: 'Idle connections in the pool', registers: [registry], collect() { this.set(pool.idleCount); } });
  new Gauge({ name: 'db_pool_waiting_requests', help: 'Queries waiting for a pool connection', registers: [registry], collect() { this.set(pool.waitingCount); } });
  new Gauge({
    name: 'berth_schema_version', help: 'Newest migration version applied to the database (0: none), as berth check reports it', registers: [registry],
    async collect() {
      const result = await readiness.get();
      if (result.schemaVersion !== undefined) this.set(result.schemaVersion ?? 0);
    },
  });

  return {
    registry,
    observeRequest({ method, route, statusCode }, seconds) {
      const labels = { method, route, status_code: String(statusCode) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
  };
}
