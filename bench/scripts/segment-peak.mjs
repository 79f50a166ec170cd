// How many bytes of segments a stream of large-argument tasks holds at its
// peak, threads vs processes: a burst of 10 tasks of 4 MiB over maxQueuedBytes
// (8 MiB) behind a blocked task, and 30 such tasks submitted one after another.
// The parent reuses a segment only once its worker has given it back (its
// argument array collected, the free sent), so the peak shows how soon that
// happens. One process, every variant interleaved round by round, medians.
//   npm run build && node bench/scripts/segment-peak.mjs [rounds=10]
// With SHMEX_BASE=<another build's dist/index.js>, that build runs too (rows
// "... before"), for a side-by-side comparison in the same run.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as current from '../../dist/index.js';

const rounds = Number(process.argv[2] ?? 10);
const base = process.env.SHMEX_BASE ? await import(process.env.SHMEX_BASE) : undefined;
const builds = base ? { before: base, after: current } : { '': current };
const MiB = 1024 * 1024;
const N = (4 * MiB) / 8;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function sum(x) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

/** Waits until the file `path` exists (the blocker in front of the burst). */
async function blocker(path) {
  const { existsSync } = await import('node:fs');
  while (!existsSync(path)) await new Promise((resolve) => setTimeout(resolve, 2));
  return 0;
}

/** Bytes of this process's segments in `dir` now. */
function segmentBytes(dir) {
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    if (name.startsWith(`shmex.${process.pid}.`)) bytes += statSync(join(dir, name)).blocks * 512;
  }
  return bytes;
}

/** Runs `work(ex)` on a fresh executor and returns the peak of segment bytes above those there before, in MiB. */
async function peakOf(lib, kind, options, work) {
  const ex = new lib[kind]({ maxWorkers: 1, ...options });
  await ex.submit(sum, new Float64Array(1)); // the worker is up
  const before = segmentBytes(ex.shmDir);
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, segmentBytes(ex.shmDir) - before);
  };
  const sampler = setInterval(sample, 1);
  await work(ex, sample);
  clearInterval(sampler);
  sample();
  await ex.shutdown();
  return peak / MiB;
}

const control = mkdtempSync(join(tmpdir(), 'shmex-peak-'));
let gate = 0;
async function burst(ex, sample) {
  const go = join(control, `go${gate++}`);
  const blocked = ex.submit(blocker, go);
  const futures = Array.from({ length: 10 }, (_, i) => ex.submit(sum, new Float64Array(N).fill(i)));
  sample();
  writeFileSync(go, '');
  await blocked;
  const results = await Promise.all(futures);
  if (results.some((s, i) => s !== i * N)) throw new Error('wrong result');
}
async function sequential(ex, sample) {
  const a = new Float64Array(N).fill(1);
  for (let i = 0; i < 30; i++) {
    if ((await ex.submit(sum, a)) !== N) throw new Error('wrong result');
    sample();
  }
}

const workloads = {
  'burst of 10 over maxQueuedBytes': [{ maxQueuedBytes: 8 * MiB }, burst],
  '30 one after another': [{}, sequential],
};
const peaks = {};
for (let r = 0; r < rounds; r++) {
  for (const [workload, [options, work]] of Object.entries(workloads)) {
    for (const kind of ['ThreadPoolExecutor', 'ProcessPoolExecutor']) {
      for (const [tag, lib] of Object.entries(builds)) {
        const row = `${kind === 'ThreadPoolExecutor' ? 'threads' : 'processes'} ${tag}`.trim();
        const key = `${workload}|${row}`;
        peaks[key] ??= [];
        peaks[key].push(await peakOf(lib, kind, options, work));
      }
    }
  }
}
rmSync(control, { recursive: true, force: true });
if (existsSync(control)) throw new Error('control directory left behind');

console.log(`peak segment MiB above the start, maxWorkers 1, 4 MiB arguments: median (min-max) of ${rounds}`);
for (const workload of Object.keys(workloads)) {
  console.log(`  ${workload}:`);
  for (const [key, values] of Object.entries(peaks)) {
    if (!key.startsWith(`${workload}|`)) continue;
    const row = key.slice(workload.length + 1);
    console.log(
      `    ${row.padEnd(17)} ${median(values).toFixed(1).padStart(5)} (${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)})`,
    );
  }
}
