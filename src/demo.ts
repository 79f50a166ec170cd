// `npm run demo`: the README example, then the same function timed in-process,
// through shmex, and through plain child_process IPC, side by side in one run.
import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
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

/** What each timed row does, printed under the table so the figures can be read. */
const ROWS = {
  inProcess: ['in-process', 'addOne(big) called here, in this process: the baseline'],
  shmex: [
    'shmex (shared memory)',
    'ex.submit(addOne, big): big copied into a shared-memory segment, the result copied into one by the worker',
  ],
  zeroCopy: [
    'shmex, from() input, empty() output',
    'the input made in shared memory with from(), the output with empty() in the task: no copy either way',
  ],
  ipc: [
    "child_process IPC ('advanced')",
    "a plain fork() child, serialization: 'advanced': the array serialized and copied both ways",
  ],
} as const;

async function main(): Promise<void> {
  // The README example.
  await using ex = new ProcessPoolExecutor();
  const big = new Float64Array(N).fill(1); // 160 MB
  const future = ex.submit(addOne, big);
  console.log(`addOne(big)[0] through shmex = ${(await future)[0]}`);

  console.log(
    `\nTiming addOne (y[i] = x[i] + 1 into a new array) on ${N.toExponential(0)} float64 (${(N * 8) / 1e6} MB),` +
      ` ${ex.maxWorkers} workers on ${availableParallelism()} cores; median of ${RUNS} runs after a warm-up...`,
  );
  const child = fork(fileURLToPath(import.meta.url), ['--serve-ipc'], { serialization: 'advanced' });
  const rows: Array<[string, Awaited<ReturnType<typeof median>>]> = [];
  rows.push([ROWS.inProcess[0], await median(() => addOne(big))]);
  rows.push([ROWS.shmex[0], await median(() => ex.submit(addOne, big))]);
  const shm = from(Float64Array, big);
  rows.push([ROWS.zeroCopy[0], await median(async () => release(await ex.submit(addOneShared, shm)))]);
  rows.push([ROWS.ipc[0], await median(() => ipcRoundTrip(child, big))]);
  child.disconnect();
  release(shm);
  const base = rows[0]![1].median;
  console.log(`\n  ${'way'.padEnd(36)} ${'median'.padStart(9)}  ${'(min, max)'.padEnd(18)}  × in-process`);
  for (const [name, t] of rows) {
    const ratio = (t.median / base).toFixed(2);
    const spread = `(min ${t.min.toFixed(0)}, max ${t.max.toFixed(0)})`;
    console.log(
      `  ${name.padEnd(36)} ${t.median.toFixed(0).padStart(6)} ms  ${spread.padEnd(18)}  ${ratio}× in-process`,
    );
  }
  console.log(
    [
      '',
      "× in-process is the row's time divided by the in-process time: lower is better,",
      'and below 1.00 the work was faster than calling addOne here. A wide (min, max) spread',
      'means the machine was busy while the row ran.',
      '',
      'What each row is:',
      ...Object.values(ROWS).map(([name, what]) => `  ${name}: ${what}.`),
      '',
      'How to read it: most of the time goes to page faults on the fresh 160 MB output, in a worker',
      'as in-process; shmex adds two copies (argument in, result out), and from() and empty() remove',
      'both and reuse memory already faulted in, which is why that row can beat in-process.',
      'Ratios compare the rows of this one run only: on a shared or busy machine the same row moves',
      'a lot from run to run (one row has read 0.39× in one run and 1.71× in the next): compare rows, not runs.',
      'The full benchmark, against piscina, tinypool and workerpool: npm run bench in a clone (bench/results.md).',
    ].join('\n'),
  );
}

if (process.argv.includes('--serve-ipc')) serveIpc();
else await main();
