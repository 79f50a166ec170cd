// addOne for bench/scripts/round-trip-phases.mjs: the same task as tasks.mjs,
// which also appends, for each call, when it started, when its output array
// was made and when its loop ended (performance.timeOrigin + now(), a clock
// every thread and process of the machine shares), its thread's page faults,
// and this worker's garbage collections, to a file of its own in PHASE_DIR.
import { appendFileSync, readFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';

const file = `${process.env.PHASE_DIR}/${process.pid}-${threadId}.jsonl`;
const now = () => performance.timeOrigin + performance.now();

new PerformanceObserver((list) => {
  for (const entry of list.getEntries())
    appendFileSync(
      file,
      `${JSON.stringify({ gc: [performance.timeOrigin + entry.startTime, entry.duration] })}\n`,
    );
}).observe({ entryTypes: ['gc'] });

/** Minor page faults of this thread so far (/proc/thread-self/stat, field 10). */
function faults() {
  const stat = readFileSync('/proc/thread-self/stat', 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

export function addOne(x) {
  const f0 = faults();
  const t0 = now();
  const y = new Float64Array(x.length);
  const t1 = now();
  for (let i = 0; i < x.length; i++) y[i] = x[i] + 1;
  const t2 = now();
  appendFileSync(file, `${JSON.stringify({ task: [t0, t1, t2, faults() - f0] })}\n`);
  return y;
}

export function noop() {
  return 0;
}
