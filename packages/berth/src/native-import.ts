/**
 * Node's own `import()`, for the user's modules (code migrations, `.js`/`.mjs` files). The CLI
 * runs from a V8 code cache as a classic script (bin/load-cli.js), where `import()` has no module
 * loader behind it; its loader, a real ES module, lends its own under this symbol.
 */
export const NATIVE_IMPORT = Symbol.for('berth.nativeImport');

export function nativeImport(url: string): Promise<unknown> {
  const lent = (globalThis as { [NATIVE_IMPORT]?: (url: string) => Promise<unknown> })[NATIVE_IMPORT];
  return lent ? lent(url) : import(url);
}
