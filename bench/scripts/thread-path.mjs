// Threads vs processes on a big round trip (the task's output on the heap,
// or made by empty()), and threads vs piscina on tiny
// tasks: one process, every pool interleaved round by round, medians.
//   npm run build && node bench/scripts/thread-path.mjs [elements=2e7] [rounds=7] [big|tiny|both]
// With SHMEX_BASE=<another build's dist/index.js>, that build's executors run
// too (rows "... before"), for a side-by-side comparison in the same run.
import { Piscina } from 'piscina';
import * as current from '../../dist/index.js';

const n = Number(process.argv[2] ?? 2e7);
const rounds = Number(process.argv[3] ?? 7);
const what = process.argv[4] ?? 'both';
const base = process.env.SHMEX_BASE ? await import(process.env.SHMEX_BASE) : undefined;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (a) =>
  `${median(a).toFixed(1).padStart(7)} (${Math.min(...a).toFixed(1)}-${Math.max(...a).toFixed(1)})`;

function addOne(x) {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] + 1;
  return y;
}
function sum(x) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

const builds = base ? { before: base, after: current } : { '': current };
// The same task with its output made by empty() (in shared memory), from each build's own copy of it.
const shmTasks = { '': new URL('../workers/shmex-tasks.mjs', import.meta.url) };
shmTasks.after = shmTasks[''];
if (base)
  shmTasks.before = new URL('../bench/workers/shmex-tasks.mjs', new URL(process.env.SHMEX_BASE, 'file:///'));
const pools = {};
for (const kind of ['ThreadPoolExecutor', 'ProcessPoolExecutor']) {
  for (const [tag, lib] of Object.entries(builds)) {
    const name = `${kind === 'ThreadPoolExecutor' ? 'threads' : 'processes'} ${tag}`.trim();
    const ex = new lib[kind]({ maxWorkers: 2 });
    pools[name] = [lib, ex, ex.module(shmTasks[tag])];
  }
}
const piscina = new Piscina({
  filename: new URL('../workers/piscina-worker.mjs', import.meta.url).href,
  minThreads: 2,
  maxThreads: 2,
  idleTimeout: Number.POSITIVE_INFINITY,
  execArgv: [],
});

if (what !== 'tiny') {
  const big = new Float64Array(n).fill(1);
  const heap = Object.fromEntries(Object.keys(pools).map((k) => [k, []]));
  const viaEmpty = Object.fromEntries(Object.keys(pools).map((k) => [k, []]));
  for (let r = -1; r < rounds; r++) {
    for (const [k, [lib, ex, tasks]] of Object.entries(pools)) {
      for (const [out, call] of [
        [heap, () => ex.submit(addOne, big)],
        [viaEmpty, () => tasks.addOneShmOut(big)],
      ]) {
        const t0 = performance.now();
        const y = await call();
        const ms = performance.now() - t0;
        if (y[n - 1] !== 2) throw new Error(`${k}: wrong result`);
        lib.release(y);
        if (r >= 0) out[k].push(ms);
      }
    }
  }
  console.log(`round trip of ${n} float64 (${(n * 8) / 1e6} MB), ms, median (min-max) of ${rounds}:`);
  console.log(
    `  ${''.padEnd(17)} ${'addOne (output on the heap)'.padEnd(30)} addOneShmOut (output by empty())`,
  );
  for (const k of Object.keys(heap))
    console.log(`  ${k.padEnd(17)} ${fmt(heap[k]).padEnd(30)} ${fmt(viaEmpty[k])}`);
}

if (what !== 'big') {
  const small = new Float64Array(1000).fill(0.5);
  const tiny = Object.fromEntries(
    Object.entries(pools).map(([k, [, ex]]) => [k, () => ex.submit(sum, small)]),
  );
  tiny.piscina = () => piscina.run(small, { name: 'sum' });
  const throughput = Object.fromEntries(Object.keys(tiny).map((k) => [k, []]));
  const latency = Object.fromEntries(Object.keys(tiny).map((k) => [k, []]));
  for (let r = -1; r < rounds; r++) {
    for (const [k, run] of Object.entries(tiny)) {
      let t0 = performance.now();
      await Promise.all(Array.from({ length: 2000 }, run));
      const perMs = 2000 / (performance.now() - t0);
      t0 = performance.now();
      for (let i = 0; i < 1000; i++) await run();
      const us = performance.now() - t0; // 1000 tasks: ms total = µs each
      if (r >= 0) {
        throughput[k].push(perMs);
        latency[k].push(us);
      }
    }
  }
  console.log(
    `tiny tasks (sum of 1000 float64), 2 workers: k tasks/s (2000 at once) | µs each (1000 in a row), median (min-max) of ${rounds}:`,
  );
  for (const k of Object.keys(tiny))
    console.log(`  ${k.padEnd(17)} ${fmt(throughput[k])} | ${fmt(latency[k])}`);
}

for (const [, ex] of Object.values(pools)) await ex.shutdown();
await piscina.destroy();
