// Wall time and CPU time per call of the chunked sum (section f, heap input)
// and of the image strips (section g: subarrays of a heap image, or of an
// image made with from()). CPU time is that of this process and its worker
// processes (user + system, from /proc), which a loaded machine changes much
// less than wall time: it shows what shmex costs even while other processes
// take the cores. One case per process; to compare two builds, run it from
// each tree in turn, interleaved:
//   npm run build && node bench/scripts/tree-cpu.mjs reduce-heap|strips-sub|strips-from [rounds=7]
// Prints one JSON line: medians of wallMs and cpuMs over the rounds after 2 warm-up calls.
import { readFileSync } from 'node:fs';
import { from, ProcessPoolExecutor } from '../../dist/index.js';

const [kase = 'reduce-heap', roundsArg = '7'] = process.argv.slice(2);
const rounds = Number(roundsArg);
/** Milliseconds per clock tick of /proc/<pid>/stat (USER_HZ is 100 on Linux). */
const TICK_MS = 10;

/** CPU ms of this process and its children so far. */
function treeCpuMs() {
  const own = process.cpuUsage();
  let ms = (own.user + own.system) / 1000;
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8');
  for (const pid of children.trim().split(/\s+/).filter(Boolean)) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ms += (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    } catch {
      // Exited meanwhile.
    }
  }
  return ms;
}

const ex = new ProcessPoolExecutor({ maxWorkers: 2, execArgv: [] });
const tasks = ex.module(new URL('../workers/tasks.mjs', import.meta.url));
await Promise.all([tasks.noop(), tasks.noop()]);

let run;
if (kase === 'reduce-heap') {
  const n = 1e8;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (i % 1000) * 0.5;
  const size = n / 8;
  const chunks = () => Array.from({ length: 8 }, (_, i) => x.subarray(i * size, (i + 1) * size));
  run = async () => {
    let total = 0;
    for await (const s of ex.map(tasks.sum, chunks())) total += s;
    return total;
  };
} else if (kase === 'strips-sub' || kase === 'strips-from') {
  const width = 4000;
  const height = 4000;
  const heap = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < heap.length; i++) heap[i] = (i * 7 + (i >>> 11) * 13) & 255;
  const image = kase === 'strips-from' ? from(Uint8ClampedArray, heap) : heap;
  const rows = height / 16;
  const rowBytes = width * 4;
  const strips = Array.from({ length: 16 }, (_, i) => {
    const first = Math.max(0, i * rows - 1);
    return { first, end: Math.min(height, (i + 1) * rows + 1), halo: i * rows - first };
  });
  run = () =>
    Promise.all(
      strips.map((s) =>
        Promise.resolve(
          tasks.stripBlur(image.subarray(s.first * rowBytes, s.end * rowBytes), width, s.halo, rows),
        ),
      ),
    );
} else {
  throw new Error(`unknown case ${kase}: reduce-heap, strips-sub or strips-from`);
}

const wall = [];
const cpu = [];
for (let r = 0; r < rounds + 2; r++) {
  const cpu0 = treeCpuMs();
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  // The workers' work after their last answer (a collection when idle) counts too.
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (r >= 2) {
    wall.push(ms);
    cpu.push(treeCpuMs() - cpu0);
  }
}
const median = (a) => Math.round([...a].sort((p, q) => p - q)[a.length >> 1]);
console.log(JSON.stringify({ kase, wallMs: median(wall), cpuMs: median(cpu) }));
await ex.shutdown();
process.exit(0);
