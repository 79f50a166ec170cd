// addOne on 160 MB through 2 workers, as bench section (a) calls it (results
// dropped after a check that sums them), for several executors side by side
// in one run: blocks of back-to-back calls per executor, rotated round by
// round, the first calls of each block untimed; medians, and the CPU time per
// call of the parent and of the workers (from /proc).
//   npm run build && node bench/scripts/seed-ab.mjs [rounds=6] [elements=2e7] [seed|fe]
// BLOCK (10) calls per block, the first UNTIMED (4) untimed: a pool idle for 2 s gives its
// segments back, and the first calls after that build its rotation of segments again.
// Rows: 'tuned' and 'shared' (workerAllocator) of this build; with
// SHMEX_BASE=<the root of another build (its dist/ and bench/workers/)>, that
// build's 'tuned' too ("base"). 'seed': a heap argument and the task's
// `new Float64Array(n)`; 'fe': an argument made with from() and the output
// with empty() (the task addOneShmOut).
import { readdirSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const rounds = Number(process.argv[2] ?? 6);
const n = Number(process.argv[3] ?? 2e7);
const variant = process.argv[4] ?? 'seed';
const BLOCK = Number(process.env.BLOCK ?? 10);
const UNTIMED = Number(process.env.UNTIMED ?? 4);
const here = new URL('../../', import.meta.url);

const x = new Float64Array(n);
for (let i = 0; i < n; i++) x[i] = (i % 1000) / 2;
let sumX = 0;
for (let i = 0; i < n; i++) sumX += x[i];

function check(y) {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i];
  if (y.length !== n || y[0] !== x[0] + 1 || s !== sumX + n) throw new Error('wrong result');
}

/** CPU ms of this process's children (the workers), from /proc/<pid>/stat. */
function workersCpu() {
  let ms = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ');
      if (f[1] === String(process.pid)) ms += (Number(f[11]) + Number(f[12])) * 10;
    } catch {} // gone meanwhile
  }
  return ms;
}
const parentCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function row(label, root, options) {
  const shmex = await import(new URL('dist/index.js', root).href);
  const ex = new shmex.ProcessPoolExecutor({ maxWorkers: 2, execArgv: [], ...options });
  const tasks = ex.module(new URL('bench/workers/tasks.mjs', root));
  const own = ex.module(new URL('bench/workers/shmex-tasks.mjs', root));
  const z = shmex.from(Float64Array, x);
  await Promise.all([tasks.noop(), tasks.noop()]);
  const call = variant === 'fe' ? () => own.addOneShmOut(z) : () => tasks.addOne(x);
  return { label, ex, call, ms: [], cpu: [0, 0, 0], done: () => shmex.release(z) };
}

const { addOne } = await import(new URL('bench/workers/tasks.mjs', here).href);
const rows = [];
if (process.env.SHMEX_BASE) {
  const base = pathToFileURL(`${process.env.SHMEX_BASE.replace(/\/$/, '')}/`);
  rows.push(await row('base, tuned', base, {}));
}
rows.push(await row('tuned', here, {}));
if (variant === 'seed') rows.push(await row('shared', here, { workerAllocator: 'shared' }));
const inProcess = [];

for (let r = 0; r < rounds; r++) {
  for (let b = 0; b < BLOCK; b++) {
    const t = performance.now();
    const y = addOne(x);
    const ms = performance.now() - t;
    check(y);
    if (b >= UNTIMED) inProcess.push(ms);
  }
  for (const one of rows) {
    for (let b = 0; b < BLOCK; b++) {
      const c0 = [parentCpu(), workersCpu()];
      const t = performance.now();
      const y = await one.call();
      const ms = performance.now() - t;
      check(y);
      if (b < UNTIMED) continue;
      one.ms.push(ms);
      one.cpu[0] += parentCpu() - c0[0];
      one.cpu[1] += workersCpu() - c0[1];
      one.cpu[2]++;
    }
  }
}

const median = (a) => {
  const s = [...a].sort((p, q) => p - q);
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};
const base = median(inProcess);
console.log(`addOne on ${n} float64 (${variant}), ${rounds} rounds of ${BLOCK - UNTIMED} timed calls each`);
console.log(`in-process      median ${base.toFixed(1).padStart(6)} ms`);
for (const one of rows) {
  const [p, w, c] = one.cpu;
  console.log(
    `${one.label.padEnd(15)} median ${median(one.ms).toFixed(1).padStart(6)} ms  ${(median(one.ms) / base).toFixed(2)}× in-process` +
      `  (min ${Math.min(...one.ms).toFixed(1)}, max ${Math.max(...one.ms).toFixed(1)}; CPU per call: parent ${(p / c).toFixed(0)}, workers ${(w / c).toFixed(0)} ms, the parent's check included)`,
  );
  one.done();
  await one.ex.shutdown();
}
