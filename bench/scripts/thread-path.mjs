// Threads vs processes (big round trip) and threads vs piscina (tiny tasks),
// interleaved, medians. node bench/scripts/thread-path.mjs [n=2e7] [rounds=7]
import { Piscina } from 'piscina';
import { ProcessPoolExecutor, release, ThreadPoolExecutor } from '../../dist/index.js';

const n = Number(process.argv[2] ?? 2e7);
const rounds = Number(process.argv[3] ?? 7);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (a) => `${median(a).toFixed(1)} (${Math.min(...a).toFixed(1)}-${Math.max(...a).toFixed(1)})`;

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
const small = new Float64Array(1000).fill(0.5);

const threads = new ThreadPoolExecutor({ maxWorkers: 2 });
const procs = new ProcessPoolExecutor({ maxWorkers: 2 });
const piscina = new Piscina({
  filename: new URL('../workers/piscina-worker.mjs', import.meta.url).href,
  minThreads: 2,
  maxThreads: 2,
  idleTimeout: Infinity,
  execArgv: [],
});
const pools = { threads, processes: procs };

const big = new Float64Array(n).fill(1);
const bigT = { threads: [], processes: [] };
for (let r = -1; r < rounds; r++) {
  for (const [name, ex] of Object.entries(pools)) {
    const t0 = performance.now();
    const y = await ex.submit(addOne, big);
    const ms = performance.now() - t0;
    if (y[n - 1] !== 2) throw new Error('wrong');
    release(y);
    if (r >= 0) bigT[name].push(ms);
  }
}
console.log(`round trip ${n} float64 (${(n * 8) / 1e6} MB), ms median (min-max):`);
for (const [k, v] of Object.entries(bigT)) console.log(`  ${k.padEnd(10)} ${fmt(v)}`);

const tiny = {
  threads: { run: () => threads.submit(sum, small) },
  processes: { run: () => procs.submit(sum, small) },
  piscina: { run: () => piscina.run(small, { name: 'sum' }) },
};
const thr = { threads: [], processes: [], piscina: [] };
const lat = { threads: [], processes: [], piscina: [] };
const N = 2000;
for (let r = -1; r < rounds; r++) {
  for (const [name, p] of Object.entries(tiny)) {
    let t0 = performance.now();
    await Promise.all(Array.from({ length: N }, () => p.run()));
    const tput = N / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    for (let i = 0; i < 500; i++) await p.run();
    const us = ((performance.now() - t0) / 500) * 1000;
    if (r >= 0) {
      thr[name].push(tput / 1000);
      lat[name].push(us);
    }
  }
}
console.log(
  `tiny tasks: sum of 1000 float64 (${N} concurrent; 500 sequential), 2 workers: k tasks/s | µs latency, median (min-max)`,
);
for (const k of Object.keys(tiny)) console.log(`  ${k.padEnd(10)} ${fmt(thr[k])} | ${fmt(lat[k])}`);
await threads.shutdown();
await procs.shutdown();
await piscina.destroy();
