// The image strips (g) and the chunked sum (f) of the benchmark, for several
// builds side by side in one process, rounds interleaved (the order reversed
// every other round), the in-process call once per round: medians of wall
// time, and, per call, the CPU time and minor page faults of the parent and
// of that build's workers (from /proc), which a loaded machine disturbs less
// than wall time.
//   npm run build && node bench/scripts/chunks-ab.mjs <strips|strips-from|sum|sum-from> [rounds=9] [label=/root...]
// A root is a package root with dist/, build/ and bench/workers/ (a copy of
// another commit's build); without one, this package is measured alone.
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { height, makeImage, rowBytes, strips, width } from './strip-image.mjs';

const [workload = 'strips', roundsArg = '9', ...rootArgs] = process.argv.slice(2);
const rounds = Number(roundsArg);
const here = fileURLToPath(new URL('../..', import.meta.url));
const roots = (rootArgs.length > 0 ? rootArgs : [`this=${here}`]).map((arg) => {
  const [label, path] = arg.split('=');
  return { label, path, times: [], cpu: [], parentFaults: [], workerFaults: [], pids: [] };
});

/** Clock ticks of /proc/<pid>/stat, in ms (USER_HZ is 100 on Linux). */
const TICK_MS = 10;
function statOf(pid) {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
}
function children() {
  const file = `/proc/${process.pid}/task/${process.pid}/children`;
  return readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}
/** CPU ms and minor faults of `pids` so far (a process that has exited counts nothing). */
function usageOf(pids) {
  let cpu = 0;
  let faults = 0;
  for (const pid of pids) {
    try {
      const f = statOf(pid);
      cpu += (Number(f[11]) + Number(f[12])) * TICK_MS;
      faults += Number(f[7]);
    } catch {
      // Exited.
    }
  }
  return { cpu, faults };
}

const { stripBlur, sum } = await import(pathToFileURL(`${roots[0].path}/bench/workers/tasks.mjs`).href);
let input;
let inProcess;
let call;
if (workload.startsWith('strips')) {
  // As bench/workloads/strips.ts: 4000x4000 RGBA in 16 strips, with a halo row above and below.
  input = makeImage();
  inProcess = () => stripBlur(input, width, 0, height);
  call = (r, image) =>
    Promise.all(
      strips.map((s) =>
        r.tasks.stripBlur(image.subarray(s.inFrom * rowBytes, s.inTo * rowBytes), width, s.haloTop, s.rows),
      ),
    );
} else {
  // As bench/workloads/reduction.ts: the sum of 1e8 float64 in 8 subarray chunks through map.
  const n = 1e8;
  const size = Math.ceil(n / 8);
  input = new Float64Array(n);
  for (let i = 0; i < n; i++) input[i] = (i % 1000) / 2;
  inProcess = () => sum(input);
  call = async (r, x) => {
    const chunks = Array.from({ length: 8 }, (_, i) => x.subarray(i * size, Math.min(n, (i + 1) * size)));
    let total = 0;
    for await (const s of r.ex.map(r.tasks.sum, chunks)) total += s;
    return total;
  };
}

const known = new Set();
for (const r of roots) {
  const shmex = await import(pathToFileURL(`${r.path}/dist/index.js`).href);
  r.ex = new shmex.ProcessPoolExecutor({ maxWorkers: 2, execArgv: [] });
  r.tasks = r.ex.module(pathToFileURL(`${r.path}/bench/workers/tasks.mjs`).href);
  r.input = workload.endsWith('-from') ? shmex.from(input.constructor, input) : input;
  await Promise.all([r.tasks.noop(), r.tasks.noop()]);
  for (let i = 0; i < 2; i++) await call(r, r.input);
  for (const pid of children()) {
    if (known.has(pid)) continue;
    known.add(pid);
    r.pids.push(pid);
  }
}

const inProcessTimes = [];
for (let round = 0; round < rounds; round++) {
  let start = performance.now();
  inProcess();
  inProcessTimes.push(performance.now() - start);
  for (const r of round % 2 === 0 ? roots : [...roots].reverse()) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const workers = usageOf(r.pids);
    const parentCpu = process.cpuUsage();
    const parentFaults = process.resourceUsage().minorPageFault;
    start = performance.now();
    await call(r, r.input);
    r.times.push(performance.now() - start);
    const used = process.cpuUsage(parentCpu);
    const after = usageOf(r.pids);
    r.cpu.push(after.cpu - workers.cpu + (used.user + used.system) / 1000);
    r.parentFaults.push(process.resourceUsage().minorPageFault - parentFaults);
    r.workerFaults.push(after.faults - workers.faults);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const inProcessMs = median(inProcessTimes);
console.log(`${workload}, ${rounds} rounds: in-process ${inProcessMs.toFixed(1)} ms`);
for (const r of roots) {
  const ms = median(r.times);
  console.log(
    `  ${r.label.padEnd(10)} ${ms.toFixed(1)} ms (${Math.min(...r.times).toFixed(0)}-${Math.max(...r.times).toFixed(0)}), ` +
      `speedup ${(inProcessMs / ms).toFixed(2)}x; CPU ${median(r.cpu).toFixed(0)} ms a call; ` +
      `minor faults a call: parent ${median(r.parentFaults)}, workers ${median(r.workerFaults)}`,
  );
}
for (const r of roots) await r.ex.shutdown();
