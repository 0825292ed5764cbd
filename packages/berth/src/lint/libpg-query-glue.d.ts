/** libpg-query's Emscripten module factory, which the package ships without types (see parser.ts). */
declare module 'libpg-query/wasm/libpg-query.js' {
  const factory: (options?: object) => Promise<unknown>;
  export default factory;
}
