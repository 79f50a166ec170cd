// `npm run demo`: the README example, then the same function timed in-process,
// through shmex, and through plain child_process IPC, side by side in one run.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { empty, from, ProcessPoolExecutor, release } from './index.js';

function addOne(x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! + 1;
  return y;
}

/** The same loop, with its output in shared memory: it comes back without a copy. */
function addOneShared(x: Float64Array): Float64Array {
  const y = empty(Float64Array, x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! + 1;
  return y;
}

const N = 2e7;
const RUNS = 5;

/** The child side of the IPC comparison: run addOne on each message and send the result back. */
function serveIpc(): void {
  process.on('message', (x: Float64Array) => process.send!(addOne(x)));
  process.on('disconnect', () => process.exit(0));
}

function ipcRoundTrip(child: ChildProcess, x: Float64Array): Promise<Float64Array> {
  return new Promise((resolve) => {
    child.once('message', (y) => resolve(y as Float64Array));
    child.send(x);
  });
}

async function median(
  run: () => Promise<unknown> | unknown,
): Promise<{ median: number; min: number; max: number }> {
  await run(); // warm-up: compile, spawn, first faults
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(RUNS / 2)]!, min: times[0]!, max: times[RUNS - 1]! };
}

async function main(): Promise<void> {
  // The README example.
  await using ex = new ProcessPoolExecutor();
  const big = new Float64Array(N).fill(1); // 160 MB
  const future = ex.submit(addOne, big);
  console.log(`addOne(big)[0] through shmex = ${(await future)[0]}`);

  console.log(
    `\naddOne on ${N.toExponential(0)} float64 (${(N * 8) / 1e6} MB), median of ${RUNS} after a warm-up:`,
  );
  const child = fork(fileURLToPath(import.meta.url), ['--serve-ipc'], { serialization: 'advanced' });
  const rows: Array<[string, Awaited<ReturnType<typeof median>>]> = [];
  rows.push(['in-process', await median(() => addOne(big))]);
  rows.push(['shmex (shared memory)', await median(() => ex.submit(addOne, big))]);
  const shm = from(Float64Array, big);
  rows.push([
    'shmex, from() input, empty() output',
    await median(async () => release(await ex.submit(addOneShared, shm))),
  ]);
  rows.push(["child_process IPC ('advanced')", await median(() => ipcRoundTrip(child, big))]);
  child.disconnect();
  release(shm);
  const base = rows[0]![1].median;
  for (const [name, t] of rows) {
    const ratio = (t.median / base).toFixed(2);
    console.log(
      `  ${name.padEnd(36)} ${t.median.toFixed(0).padStart(6)} ms  (min ${t.min.toFixed(0)}, max ${t.max.toFixed(0)})  ${ratio}x in-process`,
    );
  }
}

if (process.argv.includes('--serve-ipc')) serveIpc();
else await main();
