import { readdirSync, readFileSync } from 'node:fs';

/**
 * The threads alive when this module is first loaded, before any device opens: Node's own (V8's
 * compiler and garbage-collector helpers, libuv's pool). Everything started later is the driver's
 * (Dawn's and lavapipe's). Import this module before the first getDevice(): statically from the
 * entry point (run.ts does), since an import runs before the importing module's body.
 */
const nodeThreads = new Set(readdirSync('/proc/self/task'));

/**
 * CPU nanoseconds (schedstat) of the driver's threads: those started after Node's own. The main
 * thread busy-polls while the device works, so its time says nothing; V8's helpers used to be
 * counted too, and on a 0.6 ms kernel one garbage collection moved a layer's figure by half.
 * `allThreads`: every thread but the main one, as these figures were taken before 2026-12-01.
 */
export function driverCpuNs(allThreads = false): number {
  let total = 0;
  for (const t of readdirSync('/proc/self/task')) {
    if (allThreads ? t === String(process.pid) : nodeThreads.has(t)) continue;
    try {
      total += Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* thread exited */
    }
  }
  return total;
}
