// A worker process's per-task JavaScript, in this process, without pipes or
// a parent: a 'run' frame of one task (an 8,000-byte Float64Array summed,
// as tiny-cpu.mjs --latency sends it) is copied into a FrameInput as a read
// would put it, a WorkerRuntime (with the worker's typed-array constructors
// replaced, as workerAllocator 'shared' does) decodes and runs it, and its
// 'results' frame is written by a BlockingFrameOutput to /dev/null.
// Nanoseconds per task, median of 7 timed loops, for each build given;
// builds alternate, `--rounds` times, and the median of their medians is
// reported. Timings on a shared machine are noisy: compare builds in one run.
//
//   node bench/scripts/worker-path.mjs [--rounds 7] label=/path/to/root...
import { execFileSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TASKS = 40000;

async function child(root) {
  const load = (path) => import(pathToFileURL(`${root}/dist/${path}`).href);
  const { encodeFrame, BlockingFrameOutput } = await load('pool/frames.js');
  const { FrameInput } = await load('pool/frame-input.js');
  const { WorkerRuntime } = await load('worker/runtime.js');
  const { segmentBook } = await load('shm/books.js');
  const { installSharedArrays } = await load('worker/shared-arrays.js');
  const book = segmentBook('/dev/shm');
  installSharedArrays(book);
  const ref = { kind: 'module', url: 'file:///tasks.mjs', name: 'sum', id: 1 };
  const x = new Float64Array(1000).fill(1);
  const sent = new Set();
  // The first frame names the task; the next ones carry its number alone.
  const frames = [1, 2].map((id) => {
    const task = { id, task: ref, args: { raw: [x] }, leases: [], chunk: false };
    return Buffer.from(encodeFrame({ type: 'run', tasks: [task] }, undefined, sent).frame);
  });
  const output = new BlockingFrameOutput(openSync('/dev/null', 'w'));
  let runtime;
  const input = new FrameInput((message) => runtime.onMessage(message));
  let written = 0;
  const channel = {
    parentPid: process.pid,
    structuredClone: false,
    get turn() {
      return input.reads;
    },
    send(message, done) {
      output.write(message);
      written++;
      done?.(null);
    },
    onMessage() {},
    watchParent() {},
  };
  const sum = (a) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i];
    return s;
  };
  const loader = { resolve: async () => sum, cached: () => sum };
  runtime = new WorkerRuntime(channel, loader, book, {
    shmDir: '/dev/shm',
    threshold: 1 << 20,
    receipts: '',
  });
  const { buffer, callback } = input.onread;
  const feed = (frame) => {
    frame.copy(buffer());
    callback(frame.length);
  };
  feed(frames[0]);
  for (let i = 0; i < 20000; i++) feed(frames[1]);
  const times = [];
  for (let k = 0; k < 7; k++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < TASKS; i++) feed(frames[1]);
    times.push(Number(process.hrtime.bigint() - t0) / TASKS);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (written < 7 * TASKS) throw new Error(`only ${written} results written`);
  return median(times);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (process.argv[2] === '--child') {
  console.log(await child(process.argv[3]));
  process.exit(0);
} else {
  const args = process.argv.slice(2);
  const at = args.indexOf('--rounds');
  const rounds = at < 0 ? 7 : Number(args[at + 1]);
  const builds = args
    .filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--rounds')
    .map((a) => a.split('='));
  if (builds.length === 0) builds.push(['this', fileURLToPath(new URL('../..', import.meta.url))]);
  const results = new Map(builds.map(([label]) => [label, []]));
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < rounds; r++) {
    for (const [label, root] of builds) {
      const out = execFileSync(process.execPath, [self, '--child', root], { encoding: 'utf8' });
      results.get(label).push(Number(out));
    }
  }
  console.log(`a worker's JavaScript per tiny task, in-process: ${rounds} rounds, ns per task`);
  for (const [label, ns] of results) {
    console.log(
      `${label.padEnd(10)} median ${median(ns).toFixed(0).padStart(6)}   all ${ns.map((n) => n.toFixed(0)).join(' ')}`,
    );
  }
}
