/**
 * pg's resolution of a client's settings (its config, then the PG* environment variables, then
 * pg.defaults), exported by pg as `pg/lib/connection-parameters` but not typed by @types/pg.
 * Only what berth reads is declared.
 */
declare module 'pg/lib/connection-parameters.js' {
  export default class ConnectionParameters {
    constructor(config?: object);
    readonly options: string | undefined;
  }
}
