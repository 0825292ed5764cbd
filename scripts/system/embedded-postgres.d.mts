/** Types of embedded-postgres.mjs, for the TypeScript test harness that starts its server with it. */

export interface EmbeddedServer {
  /** Superuser URL, with its password, to the `postgres` database. */
  readonly adminUrl: string;
  readonly port: number;
  /** Pid of the postmaster (the leader of its own process group). */
  readonly pid: number;
  /** `server_version` of the binaries, e.g. `15.18`. */
  readonly version: string;
  /** Fast shutdown, SIGKILL after 15 s; never throws. Leaves `dir` to the caller. */
  stop(): Promise<void>;
}

export declare function findFreePort(): Promise<number>;
export declare function portIsFree(port: number): Promise<boolean>;
export declare function startEmbeddedPostgres(options: { dir: string; password: string; onLog?: (line: string) => void }): Promise<EmbeddedServer>;
