/**
 * A WGSL generator memoised on its arguments (as JSON). A training step calls the same generators
 * with the same specs every step; regenerating the conv kernels' tens of kilobytes of WGSL per
 * dispatch was a tenth of the step's JavaScript time on Dawn's null backend, and handing back the
 * same string object lets runKernel's caches find it without hashing or comparing it again (V8
 * keeps a string's hash). At most `max` results are kept; past that the cache starts over.
 */
export function memoWgsl<A extends unknown[], R>(generate: (...args: A) => R, max = 512): (...args: A) => R {
  const cache = new Map<string, R>();
  return (...args: A): R => {
    const key = JSON.stringify(args);
    let r = cache.get(key);
    if (r === undefined) {
      r = generate(...args);
      if (cache.size >= max) cache.clear();
      cache.set(key, r);
    }
    return r;
  };
}
