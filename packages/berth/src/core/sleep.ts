/**
 * A sleep that ends early (rejecting with the signal's reason) when `signal` aborts. `onWake`, if
 * given, receives a function that ends the sleep early, resolving.
 */
export function sleep(ms: number, signal?: AbortSignal, onWake?: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const end = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const timer = setTimeout(() => end(resolve), ms);
    const onAbort = () => end(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    onWake?.(() => end(resolve));
  });
}
