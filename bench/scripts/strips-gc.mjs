// What V8's collections cost the caller in bench (g): the rows of 16 subarray
// strips of a heap 4000x4000 RGBA image and of the same image made with from(),
// each on its own 2-worker executor, called as (g) calls them (a forced
// collection, an untimed call, then the timed call). For each timed call: its
// ms, this process's collections inside it (count and ms by kind), the
// external memory V8's heuristics see (native.externalMemory()) and of it the
// ArrayBuffers' bytes (process.memoryUsage().external), and this process's
// mappings of segment files by owner (its own: the pool; the workers': the
// mapping cache), read from /proc/self/maps. Prints medians per row.
//   npm run build && node bench/scripts/strips-gc.mjs [rounds=14] [--json]
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { from, ProcessPoolExecutor, release } from '../../dist/index.js';
import { native } from '../../dist/shm/native.js';
import { makeImage, rowBytes, strips, width } from './strip-image.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 14);
const KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb', 15: 'all' };

const entries = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    entries.push({ at: e.startTime, ms: e.duration, kind: KINDS[e.detail.kind] ?? String(e.detail.kind) });
}).observe({ entryTypes: ['gc'] });

/** Bytes this process maps of segment files, by whether their owner is this process. */
function segmentMappings() {
  const own = `shmex.${process.pid}.`;
  const out = { own: 0, others: 0 };
  for (const line of readFileSync('/proc/self/maps', 'latin1').split('\n')) {
    const path = line.split(/\s+/)[5];
    if (path === undefined || !path.includes('/shmex.')) continue;
    const [lo, hi] = line
      .split(' ')[0]
      .split('-')
      .map((h) => Number.parseInt(h, 16));
    if (path.includes(own)) out.own += hi - lo;
    else out.others += hi - lo;
  }
  return out;
}

const image = makeImage();
const imageShm = from(Uint8ClampedArray, image);
const TASKS = new URL('../workers/tasks.mjs', import.meta.url);
const rows = [
  { id: 'heap', source: image },
  { id: 'from', source: imageShm },
].map((row) => {
  const ex = new ProcessPoolExecutor({ maxWorkers: 2, execArgv: [] });
  return { ...row, ex, tasks: ex.module(TASKS), calls: [] };
});

const call = (row) =>
  Promise.all(
    strips.map((s) =>
      Promise.resolve(
        row.tasks.stripBlur(
          row.source.subarray(s.inFrom * rowBytes, s.inTo * rowBytes),
          width,
          s.haloTop,
          s.rows,
        ),
      ),
    ),
  );

for (const row of rows) for (let i = 0; i < 3; i++) await call(row);
const MB = 1 / 2 ** 20;
for (let r = 0; r < rounds; r++) {
  for (const row of rows) {
    gc();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await call(row); // untimed, its results dropped: the timed call pays for them
    const before = process.memoryUsage();
    const v8External = native.externalMemory();
    const maps = segmentMappings();
    const n0 = entries.length;
    const t0 = performance.now();
    const results = await call(row);
    const ms = performance.now() - t0;
    await new Promise((resolve) => setImmediate(resolve)); // gc entries are queued
    const mine = entries.slice(n0).filter((e) => e.at < t0 + ms);
    const byKind = {};
    for (const e of mine) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
    row.calls.push({
      ms,
      gcs: mine.length,
      gcMs: mine.reduce((s, e) => s + e.ms, 0),
      byKind,
      externalMB: before.external * MB,
      v8ExternalMB: v8External * MB,
      ownMapMB: maps.own * MB,
      cachedMapMB: maps.others * MB,
      resultMB: results.reduce((s, a) => s + a.byteLength, 0) * MB,
    });
  }
}
for (const row of rows) await row.ex.shutdown();
release(imageShm);

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const summary = rows.map(({ id, calls }) => ({
  id,
  ms: median(calls.map((c) => c.ms)),
  gcsPerCall: calls.reduce((s, c) => s + c.gcs, 0) / calls.length,
  gcMs: median(calls.map((c) => c.gcMs)),
  externalMB: median(calls.map((c) => c.externalMB)),
  v8ExternalMB: median(calls.map((c) => c.v8ExternalMB)),
  ownMapMB: median(calls.map((c) => c.ownMapMB)),
  cachedMapMB: median(calls.map((c) => c.cachedMapMB)),
  calls,
}));
if (process.argv.includes('--json')) console.log(JSON.stringify(summary.map(({ calls, ...s }) => s)));
else {
  for (const s of summary) {
    console.log(
      `${s.id}: median ${s.ms.toFixed(1)} ms; ${s.gcsPerCall.toFixed(2)} gc entries/call, median ${s.gcMs.toFixed(1)} ms in gc; ` +
        `V8 external ${s.v8ExternalMB.toFixed(0)} MB (ArrayBuffers ${s.externalMB.toFixed(0)}), own segments mapped ${s.ownMapMB.toFixed(0)} MB, workers' segments mapped ${s.cachedMapMB.toFixed(0)} MB`,
    );
    for (const c of s.calls) {
      console.log(
        `  ${c.ms.toFixed(1)} ms, gc ${c.gcs} ${JSON.stringify(c.byKind)} ${c.gcMs.toFixed(1)} ms, V8 ext ${c.v8ExternalMB.toFixed(0)} (AB ${c.externalMB.toFixed(0)}), own ${c.ownMapMB.toFixed(0)}, cached ${c.cachedMapMB.toFixed(0)}, results ${c.resultMB.toFixed(0)} MB`,
      );
    }
  }
}
