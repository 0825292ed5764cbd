import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatListenAddress, type ListenAddress } from '../config/listen-address.js';
import { ConfigError, formatDuration, type ProgressSnapshot } from '../index.js';

/** What the probes read: the migrator's progress while it runs, the command's outcome once done. */
export interface ProbeState {
  progress(): ProgressSnapshot | undefined;
  /** Set when the command has finished: its exit code and the pending count it ended with. */
  outcome(): { exitCode: number; pending: number | null } | undefined;
}

/**
 * An idle session whose last round trip is older than this many heartbeat periods has stopped
 * answering (the server ends it after 30 s of silence, SPEC §4.5); a heartbeat unanswered this
 * long means the same. A statement in flight is not judged by its length: a migration may run for
 * hours, and the server's client_connection_check_interval and TCP keepalives end the session (so
 * the driver reports it lost) if either side dies meanwhile.
 */
const SILENT_HEARTBEATS = 3;

/** `/healthz`: the process answers (this handler runs) and its database session, if one is open, is responsive. */
export function health(snapshot: ProgressSnapshot | undefined, now = Date.now()): { ok: boolean; reason: string } {
  const session = snapshot?.session;
  if (!session) return { ok: true, reason: 'alive; no database session open' };
  if (session.lost) return { ok: false, reason: 'the database session was lost' };
  const hb = session.heartbeat;
  if (hb?.pendingSince != null && now - hb.pendingSince > SILENT_HEARTBEATS * hb.everyMs) {
    return { ok: false, reason: `the server has not answered a heartbeat for ${formatDuration(now - hb.pendingSince)}` };
  }
  if (session.busySince !== null) return { ok: true, reason: `alive; a statement has been in flight for ${formatDuration(now - session.busySince)}` };
  if (hb && session.lastRoundTripAt !== null && now - session.lastRoundTripAt > SILENT_HEARTBEATS * hb.everyMs) {
    return { ok: false, reason: `the session has been silent for ${formatDuration(now - session.lastRoundTripAt)} although it should heartbeat every ${formatDuration(hb.everyMs)}` };
  }
  return { ok: true, reason: 'alive; the database session is idle and answering' };
}

/** `/readyz`: the command finished successfully and left nothing pending (the schema is current). */
export function readiness(state: ProbeState): { ok: boolean; reason: string } {
  const outcome = state.outcome();
  if (!outcome) return { ok: false, reason: `still running (${state.progress()?.phase ?? 'starting'})` };
  if (outcome.exitCode !== 0) return { ok: false, reason: `finished with exit code ${outcome.exitCode}` };
  if (outcome.pending === null) return { ok: false, reason: 'finished without knowing the pending migrations (this command does not plan)' };
  if (outcome.pending > 0) return { ok: false, reason: `finished with ${outcome.pending} migration(s) pending` };
  return { ok: true, reason: 'the schema is current' };
}

export interface HttpEndpoint {
  /** The address actually bound, e.g. `127.0.0.1:41235` for `127.0.0.1:0`. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics`, `/healthz` and `/readyz` with node:http. Listening fails as a user error
 * (exit 2) naming the address, before the command starts, so a port already in use never leaves
 * a migration running unobserved. The server never keeps the process alive by itself.
 */
export async function serveHttp(address: ListenAddress, metrics: () => Promise<string>, state: ProbeState): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
    if (path === '/metrics') {
      metrics().then(
        (text) => reply(200, 'text/plain; version=0.0.4; charset=utf-8', text),
        (err: unknown) => reply(500, 'text/plain; charset=utf-8', `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const { ok, reason } = path === '/healthz' ? health(state.progress()) : readiness(state);
      return reply(ok ? 200 : 503, 'text/plain; charset=utf-8', `${ok ? 'ok' : 'not ok'}: ${reason}\n`);
    }
    return reply(404, 'text/plain; charset=utf-8', 'berth serves /metrics, /healthz and /readyz\n');
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(listenError(address, err));
    server.once('error', fail);
    server.listen({ port: address.port, ...(address.host === undefined ? {} : { host: address.host }) }, () => {
      server.off('error', fail);
      resolve();
    });
  });
  server.unref();
  const bound = server.address() as AddressInfo;
  return {
    address: formatListenAddress({ host: address.host === undefined ? undefined : bound.address, port: bound.port }),
    port: bound.port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function listenError(address: ListenAddress, err: NodeJS.ErrnoException): ConfigError {
  const where = formatListenAddress(address);
  const why = err.code === 'EADDRINUSE' ? 'the address is already in use (another process, or another container of the pod, listens there)'
    : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)'
      : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' ? 'no interface of this machine has that address'
        : err.message;
  return new ConfigError('ERR_HTTP_LISTEN',
    `--http ${where}: cannot listen: ${why}. Nothing was run. Choose another address for --http (BERTH_HTTP), e.g. :9464, or 127.0.0.1:0 for any free port.`,
    { details: { address: where, errno: err.code } });
}
