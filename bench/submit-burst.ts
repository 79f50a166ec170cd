// A burst of large submits, and a burst of tiny ones, with and without the
// queued-bytes budget (maxQueuedBytes: Infinity is submit copying every
// argument at once, as before the budget). Interleaved rounds, medians.
//   node --import tsx bench/submit-burst.ts [--rounds 3] [--tasks 30] [--mb 80]
// Large burst: `tasks` x submit(sum, a), each `a` a fresh heap Float64Array of
// `mb` MB. Reported: the submit loop's time, the event loop's longest delay
// (perf_hooks.monitorEventLoopDelay, max), the peak bytes of the executor's
// directory (a worker thread sums its files every ~2 ms, so it samples while
// the main thread is blocked), and the whole burst's time.
// Tiny burst: 2000 x submit(sum, Float64Array(1000)) awaited together.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ProcessPoolExecutor, trimSharedMemory } from 'shmex';
import { median } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    tasks: { type: 'string', default: '30' },
    mb: { type: 'string', default: '80' },
    tiny: { type: 'string', default: '2000' },
    'tiny-rounds': { type: 'string', default: '9' },
  },
});
const ROUNDS = Number(values.rounds);
const TASKS = Number(values.tasks);
const ELEMENTS = (Number(values.mb) * 1e6) / 8;
const TINY = Number(values.tiny);
const TINY_ROUNDS = Number(values['tiny-rounds']);
const MiB = 1024 * 1024;

const SAMPLER = `
const { workerData } = require('node:worker_threads');
const { readdirSync, statSync } = require('node:fs');
const cells = new Float64Array(workerData.buffer);
const flag = new Int32Array(workerData.flag);
while (Atomics.load(flag, 0) === 0) {
  let sum = 0;
  for (const name of readdirSync(workerData.dir)) {
    try { sum += statSync(workerData.dir + '/' + name).blocks * 512; } catch {}
  }
  if (sum > cells[0]) cells[0] = sum;
  Atomics.wait(flag, 0, 0, 2);
}`;

function dirBytes(dir: string): number {
  let sum = 0;
  for (const name of readdirSync(dir)) sum += statSync(join(dir, name)).blocks * 512;
  return sum;
}

interface Variant {
  name: string;
  maxQueuedBytes: number | undefined;
}
const VARIANTS: Variant[] = [
  { name: 'Infinity (copy all at submit)', maxQueuedBytes: Number.POSITIVE_INFINITY },
  { name: 'default budget', maxQueuedBytes: undefined },
];

const sum = (a: Float64Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
};

async function largeBurst(dir: string, variant: Variant) {
  const ex = new ProcessPoolExecutor({ maxWorkers: 2, shmDir: dir, maxQueuedBytes: variant.maxQueuedBytes });
  await Promise.all([ex.submit(() => 0), ex.submit(() => 0)]); // workers started
  const peak = new Float64Array(new SharedArrayBuffer(8));
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const sampler = new Worker(SAMPLER, {
    eval: true,
    workerData: { dir, buffer: peak.buffer, flag: flag.buffer },
  });
  await new Promise((resolve) => sampler.once('online', resolve));
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const arrays = Array.from({ length: TASKS }, (_, i) => new Float64Array(ELEMENTS).fill(i));
  delay.enable();
  await new Promise((resolve) => setTimeout(resolve, 50)); // its first tick only starts the clock
  const t0 = performance.now();
  const futures = arrays.map((a) => ex.submit(sum, a));
  const loopMs = performance.now() - t0;
  const afterLoop = dirBytes(dir);
  const results = await Promise.all(futures);
  const totalMs = performance.now() - t0;
  delay.disable();
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  await new Promise((resolve) => sampler.once('exit', resolve));
  results.forEach((r, i) => {
    if (r !== i * ELEMENTS) throw new Error(`task ${i}: ${r}`);
  });
  await ex.shutdown();
  trimSharedMemory();
  return {
    loopMs,
    maxDelayMs: delay.max / 1e6,
    peakMiB: Math.max(peak[0]!, afterLoop) / MiB,
    afterLoopMiB: afterLoop / MiB,
    totalMs,
  };
}

async function tinyBurst(dir: string, variant: Variant) {
  const ex = new ProcessPoolExecutor({ maxWorkers: 2, shmDir: dir, maxQueuedBytes: variant.maxQueuedBytes });
  await Promise.all([ex.submit(() => 0), ex.submit(() => 0)]);
  const x = new Float64Array(1000).fill(1);
  await Promise.all(Array.from({ length: 200 }, () => ex.submit(sum, x))); // warm: tasks measured quick
  const t0 = performance.now();
  const futures: Promise<number>[] = [];
  for (let i = 0; i < TINY; i++) futures.push(ex.submit(sum, x));
  const submitUs = ((performance.now() - t0) * 1000) / TINY;
  await Promise.all(futures);
  const tasksPerS = TINY / ((performance.now() - t0) / 1000);
  await ex.shutdown();
  return { tasksPerS, submitUs };
}

const root = mkdtempSync('/dev/shm/shmex-burst-');
try {
  const large = VARIANTS.map(() => [] as Awaited<ReturnType<typeof largeBurst>>[]);
  const tiny = VARIANTS.map(() => [] as number[]);
  const submitUs = VARIANTS.map(() => [] as number[]);
  for (let round = 0; round <= ROUNDS && TASKS > 0; round++) {
    for (const v of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const l = await largeBurst(mkdtempSync(join(root, 'r-')), VARIANTS[v]!);
      if (round > 0) large[v]!.push(l);
      process.stderr.write(`large, round ${round}, ${VARIANTS[v]!.name}: ${JSON.stringify(l)}\n`);
    }
  }
  // Apart from the large bursts, whose garbage would weigh on whichever variant follows.
  const tinyDir = mkdtempSync(join(root, 'tiny-'));
  for (let round = 0; round <= TINY_ROUNDS; round++) {
    for (const v of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const t = await tinyBurst(tinyDir, VARIANTS[v]!);
      if (round > 0) {
        tiny[v]!.push(t.tasksPerS);
        submitUs[v]!.push(t.submitUs);
      }
      process.stderr.write(`tiny, round ${round}, ${VARIANTS[v]!.name}: ${JSON.stringify(t)}\n`);
    }
  }
  const m = (xs: number[]) => (xs.length === 0 ? '-' : median(xs).toFixed(0));
  console.log(
    `${TASKS} x ${values.mb} MB submits, 2 workers; medians of ${ROUNDS} interleaved rounds (tiny: ${TINY} tasks, ${TINY_ROUNDS} rounds)`,
  );
  console.log(
    '| maxQueuedBytes | submit loop ms | max event-loop delay ms | peak dir MiB | dir MiB after loop | burst ms | tiny tasks/s | tiny submit() µs |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  VARIANTS.forEach((variant, v) => {
    const r = large[v]!;
    console.log(
      `| ${variant.name} | ${m(r.map((x) => x.loopMs))} | ${m(r.map((x) => x.maxDelayMs))} | ${m(r.map((x) => x.peakMiB))} | ${m(r.map((x) => x.afterLoopMiB))} | ${m(r.map((x) => x.totalMs))} | ${m(tiny[v]!)} | ${median(submitUs[v]!).toFixed(1)} |`,
    );
  });
} finally {
  rmSync(root, { recursive: true, force: true });
}
