/** Where `--http` listens: `host` undefined means every interface (Node's default). */
export interface ListenAddress {
  readonly host: string | undefined;
  readonly port: number;
}

/**
 * `--http` as operators write it for exporters: `:9464` (every interface), `0.0.0.0:9464`,
 * `127.0.0.1:0` (any free port), `[::1]:9464`, `localhost:9464`, or a bare port `9464`. Returns
 * undefined for anything else (a URL, a missing or out-of-range port, spaces), so the resolver
 * names the flag or variable in its error.
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65_535) return undefined;
  const host = match[1] === undefined || match[1] === '' ? undefined : match[1].replace(/^\[(.*)\]$/, '$1');
  // A host name part may not start or end with a dot or a hyphen.
  if (host !== undefined && !host.includes(':') && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) return undefined;
  return { host, port };
}

/** How an address is written back in messages and logs: `127.0.0.1:9464`, `[::]:9464`, `:9464`. */
export function formatListenAddress(address: ListenAddress): string {
  if (address.host === undefined) return `:${address.port}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
