// Sequential latency of tiny module tasks (sum of 1000 float64) on worker
// threads: shmex's ThreadPoolExecutor against piscina, interleaved round by
// round, medians of the rounds' medians. Also the CPU time per task of the
// sequential runs: this thread's, and that of every other thread of the
// process (the pool's workers, V8's and libuv's helpers; other pools' workers
// are idle), from /proc/self/task/*/schedstat.
//   npm run build && node bench/scripts/thread-latency.mjs [tasks=2000] [rounds=7] [workers=2]
// SHMEX_BASE=<another build's dist/index.js> adds that build (row "before");
// NO_BURST=1 leaves out the burst of `tasks` at once (the k tasks/s column)
// that comes before each round's sequential run.
import { readdirSync, readFileSync } from 'node:fs';
import { Piscina } from 'piscina';
import * as current from '../../dist/index.js';

const tasks = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 7);
const workers = Number(process.argv[4] ?? 2);
const base = process.env.SHMEX_BASE ? await import(process.env.SHMEX_BASE) : undefined;
/** CPU ns of this thread, and of the others, so far. */
function cpu() {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    if (tid === String(process.pid)) main += ns;
    else others += ns;
  }
  return { main, others };
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const TASKS = new URL('../workers/tasks.mjs', import.meta.url);
const BASE_TASKS = base
  ? new URL('../bench/workers/tasks.mjs', new URL(process.env.SHMEX_BASE, 'file:///'))
  : undefined;

const runs = {};
const pools = [];
for (const [tag, lib, url] of [
  ['threads', current, TASKS],
  ...(base ? [['before', base, BASE_TASKS]] : []),
]) {
  const ex = new lib.ThreadPoolExecutor({ maxWorkers: workers, execArgv: [] });
  const m = ex.module(url);
  runs[tag] = (x) => m.sum(x);
  pools.push(() => ex.shutdown());
}
const piscina = new Piscina({
  filename: new URL('../workers/piscina-worker.mjs', import.meta.url).href,
  minThreads: workers,
  maxThreads: workers,
  idleTimeout: Number.POSITIVE_INFINITY,
  execArgv: [],
});
runs.piscina = (x) => piscina.run(x, { name: 'sum' });
pools.push(() => piscina.destroy());

const x = new Float64Array(1000).fill(0.5);
const lat = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const thr = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const cpuMain = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const cpuOthers = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (let r = -2; r < rounds; r++) {
  const order = Object.entries(runs);
  if (r >= 0) for (let i = 0; i < r % order.length; i++) order.push(order.shift());
  for (const [k, run] of order) {
    let t0 = performance.now();
    if (!process.env.NO_BURST) await Promise.all(Array.from({ length: tasks }, () => run(x)));
    const per = tasks / (performance.now() - t0);
    const times = [];
    const before = cpu();
    for (let i = 0; i < tasks; i++) {
      t0 = performance.now();
      if ((await run(x)) !== 500) throw new Error(`${k}: wrong sum`);
      times.push((performance.now() - t0) * 1000);
    }
    const after = cpu();
    if (r >= 0) {
      cpuMain[k].push((after.main - before.main) / 1000 / tasks);
      cpuOthers[k].push((after.others - before.others) / 1000 / tasks);
      lat[k].push(median(times));
      thr[k].push(per);
    }
  }
}
console.log(
  `${tasks} tiny tasks, ${workers} workers, ${rounds} rounds: latency µs (median of round medians, min-max) | k tasks/s | CPU µs per sequential task, this thread + the others`,
);
for (const k of Object.keys(runs))
  console.log(
    `  ${k.padEnd(8)} ${median(lat[k]).toFixed(1).padStart(6)} (${Math.min(...lat[k]).toFixed(1)}-${Math.max(...lat[k]).toFixed(1)}) | ${median(thr[k]).toFixed(1)} | ${median(cpuMain[k]).toFixed(1)} + ${median(cpuOthers[k]).toFixed(1)}`,
  );
for (const close of pools) await close();
