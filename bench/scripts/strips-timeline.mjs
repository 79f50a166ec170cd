// Where the time of one call of bench (g) goes (16 subarray strips of a heap
// 4000x4000 RGBA image on 2 workers): for each strip, when its submit began
// and returned (the copy into a segment is made there), when it ran in its
// worker, and when its result arrived, in ms from the call's start; then each
// worker's busy time, idle time and last end. Prints the median call of
// `rounds`, each after an in-process call of the whole image, as in (g).
//   npm run build && node bench/scripts/strips-timeline.mjs [rounds=9] [--gc]
// --gc: a garbage collection (outside the timing) before each call, as (g) does.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ProcessPoolExecutor } from '../../dist/index.js';
import { stripBlur } from '../workers/tasks.mjs';
import { height, makeImage, rowBytes, strips, width } from './strip-image.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 9);
const collect = process.argv.includes('--gc');

const image = makeImage();

const ex = new ProcessPoolExecutor({ maxWorkers: 2, execArgv: [] });
const tasks = ex.module(new URL('../workers/timed-tasks.mjs', import.meta.url));
await Promise.all([tasks.noop(), tasks.noop()]);
const now = () => performance.timeOrigin + performance.now();

async function call() {
  const t0 = now();
  const rows = strips.map((s, i) => {
    const row = { i, submit: now() - t0 };
    const future = tasks.stripBlurTimed(
      image.subarray(s.inFrom * rowBytes, s.inTo * rowBytes),
      width,
      s.haloTop,
      s.rows,
    );
    row.submitted = now() - t0;
    row.done = Promise.resolve(future).then((v) => {
      Object.assign(row, { result: now() - t0, started: v.started - t0, ended: v.ended - t0, pid: v.pid });
    });
    return row;
  });
  await Promise.all(rows.map((r) => r.done));
  return { ms: now() - t0, rows };
}

for (let i = 0; i < 3; i++) await call();
const calls = [];
for (let r = 0; r < rounds; r++) {
  stripBlur(image, width, 0, height);
  if (collect) {
    gc();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  calls.push(await call());
}
await ex.shutdown();

calls.sort((a, b) => a.ms - b.ms);
const median = calls[calls.length >> 1];
const f = (ms) => ms.toFixed(1).padStart(6);
console.log(`calls (ms): ${calls.map((c) => c.ms.toFixed(0)).join(' ')}; median ${median.ms.toFixed(1)}`);
const pids = [...new Set(median.rows.map((r) => r.pid))];
for (const r of median.rows) {
  console.log(
    `strip ${String(r.i).padStart(2)}: submit ${f(r.submit)}-${f(r.submitted)}  worker ${pids.indexOf(r.pid)} ${f(r.started)}-${f(r.ended)} (${(r.ended - r.started).toFixed(1)})  result ${f(r.result)}`,
  );
}
for (const [w, pid] of pids.entries()) {
  const mine = median.rows.filter((r) => r.pid === pid).sort((a, b) => a.started - b.started);
  const busy = mine.reduce((sum, r) => sum + r.ended - r.started, 0);
  const end = mine.at(-1).ended;
  console.log(
    `worker ${w}: ${mine.length} strips, busy ${busy.toFixed(1)} ms, idle ${(end - busy).toFixed(1)} ms before its last end at ${end.toFixed(1)}`,
  );
}
