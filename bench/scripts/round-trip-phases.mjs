// Where a 160 MB addOne round trip spends its time, phase by phase, on
// worker threads and on worker processes, as bench (a) calls it: a module
// task, a heap array argument, results dropped (no release), calls back to
// back. Each pool runs blocks of `block` calls in turn (the first call of a
// block is left out: it follows the other pool's block); medians over all.
//   npm run build && node bench/scripts/round-trip-phases.mjs [blocks=6] [block=6] [elements=2e7]
// SHMEX_BASE=<another build's dist/index.js> adds that build's pools (rows
// "... before"), in the same run.
// Columns (ms): total; submit (the caller's submit: the copy into a segment),
// and of it the caller's thread's time on a CPU and waiting for one, and
// the CPU time meanwhile of every other thread of this process and its
// children (the pools' workers, V8's and libuv's helpers);
// to task (from submit's return until the task starts in the worker: the
// parent's collection before it sends, the message, the worker's work on
// arriving frees); new (the task's `new Float64Array(n)`); loop; back (from
// the loop's end until the caller has the result: the worker's collection
// before its outcome, the message, mapping the result); then the garbage
// collections within the call, of the caller's thread and of the workers
// (any of them), and the page faults of the worker's thread during the task.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import * as current from '../../dist/index.js';

const blocks = Number(process.argv[2] ?? 6);
const block = Number(process.argv[3] ?? 6);
const n = Number(process.argv[4] ?? 2e7);
const base = process.env.SHMEX_BASE ? await import(process.env.SHMEX_BASE) : undefined;
const dir = mkdtempSync(join(tmpdir(), 'shmex-phases-'));
process.env.PHASE_DIR = dir; // read by the workers (processes inherit it; threads share it)
const tasksUrl = new URL('../workers/phase-tasks.mjs', import.meta.url);
const now = () => performance.timeOrigin + performance.now();

const callerGcs = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries())
    callerGcs.push([performance.timeOrigin + entry.startTime, entry.duration]);
}).observe({ entryTypes: ['gc'] });

const builds = base ? { before: base, after: current } : { '': current };
const pools = [];
for (const [tag, lib] of Object.entries(builds)) {
  for (const kind of ['ThreadPoolExecutor', 'ProcessPoolExecutor']) {
    const ex = new lib[kind]({ maxWorkers: 2, execArgv: [] });
    const tasks = ex.module(tasksUrl);
    await Promise.all([tasks.noop(), tasks.noop()]);
    const name = `${kind === 'ThreadPoolExecutor' ? 'threads' : 'processes'} ${tag}`.trim();
    pools.push({ name, ex, tasks, calls: [] });
  }
}

const x = new Float64Array(n);
for (let i = 0; i < n; i++) x[i] = i % 1000;

/** This thread's time on a CPU and waiting for one so far (ms), from /proc/thread-self/schedstat. */
function schedstat() {
  const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ').map(Number);
  return [run / 1e6, wait / 1e6];
}

/** CPU time (ms) so far of every thread of this process but this one, and of its child processes. */
function othersCpu() {
  const tasks = [];
  for (const tid of readdirSync('/proc/self/task')) {
    if (tid !== String(process.pid)) tasks.push(`/proc/self/task/${tid}`);
    for (const child of readFileSync(`/proc/self/task/${tid}/children`, 'latin1').split(' ')) {
      if (child === '') continue;
      try {
        for (const ctid of readdirSync(`/proc/${child}/task`)) tasks.push(`/proc/${child}/task/${ctid}`);
      } catch {
        // exited meanwhile
      }
    }
  }
  let ms = 0;
  for (const task of tasks) {
    try {
      ms += Number(readFileSync(`${task}/schedstat`, 'latin1').split(' ')[0]) / 1e6;
    } catch {
      // exited meanwhile
    }
  }
  return ms;
}

/** One call; the result dies with this frame. */
async function call(pool) {
  const o0 = othersCpu();
  const s0 = schedstat();
  const t0 = now();
  const future = pool.tasks.addOne(x);
  const t1 = now();
  const s1 = schedstat();
  const o1 = othersCpu();
  const y = await future;
  const t2 = now();
  if (y[5] !== 6 || y[n - 1] !== ((n - 1) % 1000) + 1) throw new Error(`${pool.name}: wrong result`);
  return { t0, t1, t2, submitCpu: s1[0] - s0[0], submitWait: s1[1] - s0[1], othersCpu: o1 - o0 };
}

for (let b = 0; b < blocks; b++) {
  for (const pool of pools) {
    for (let i = 0; i < block; i++) {
      const times = await call(pool);
      if (i > 0 || block === 1) pool.calls.push(times);
    }
  }
}
for (const pool of pools) await pool.ex.shutdown();

const runs = [];
const workerGcs = [];
for (const file of readdirSync(dir)) {
  for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
    if (line === '') continue;
    const entry = JSON.parse(line);
    if (entry.task) runs.push(entry.task);
    else workerGcs.push(entry.gc);
  }
}
rmSync(dir, { recursive: true, force: true });

const median = (values) => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)];
};
const gcWithin = (gcs, from, to) =>
  gcs.filter(([start]) => start >= from && start < to).reduce((sum, [, ms]) => sum + ms, 0);
const columns = [
  'total',
  'submit',
  '(on cpu',
  'waiting)',
  'others cpu',
  'to task',
  'new',
  'loop',
  'back',
  'caller gc',
  'workers gc',
  'faults',
];
console.log(
  `round trip of addOne on ${n} float64 (${(n * 8) / 1e6} MB), results dropped, 2 workers;` +
    ` ${blocks} blocks of ${block} calls per pool, medians (ms):`,
);
console.log(`${''.padEnd(18)}${columns.map((c) => c.padStart(11)).join('')}`);
for (const pool of pools) {
  const rows = pool.calls.map(({ t0, t1, t2, submitCpu, submitWait, othersCpu }) => {
    const run = runs.find(([start, , end]) => start >= t1 - 1 && end <= t2);
    const [w0, w1, w2, faults] = run ?? [Number.NaN, Number.NaN, Number.NaN, Number.NaN];
    return [
      t2 - t0,
      t1 - t0,
      submitCpu,
      submitWait,
      othersCpu,
      w0 - t1,
      w1 - w0,
      w2 - w1,
      t2 - w2,
      gcWithin(callerGcs, t0, t2),
      gcWithin(workerGcs, t0, t2),
      faults,
    ];
  });
  const medians = columns.map((_, i) => median(rows.map((row) => row[i])));
  console.log(`${pool.name.padEnd(18)}${medians.map((m) => m.toFixed(1).padStart(11)).join('')}`);
}
