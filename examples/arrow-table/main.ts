// An Arrow table of 4 million readings, cut in slices processed on every
// core: each slice travels as Arrow IPC bytes in shared memory and the worker
// reads its columns in place. The per-sensor means match a local pass.
// Run: node --import tsx examples/arrow-table/main.ts
import 'shmex/arrow';
import assert from 'node:assert/strict';
import { makeTable } from 'apache-arrow';
import { ProcessPoolExecutor } from 'shmex';
import * as Stats from './stats.js';

const N = 4_000_000;
const SLICES = 8;
const table = makeTable({
  sensor: Int32Array.from({ length: N }, (_, i) => (i * 7) % 13),
  value: Float64Array.from({ length: N }, (_, i) => i % 1000), // whole numbers: sums exact in any order
});

await using ex = new ProcessPoolExecutor();
const stats = ex.module<typeof Stats>(new URL('./stats.js', import.meta.url));
const step = Math.ceil(N / SLICES);
const slices = Array.from({ length: SLICES }, (_, k) => table.slice(k * step, (k + 1) * step));
const parts = await Promise.all(slices.map((slice) => stats.sumsBySensor(slice)));

const total: Record<number, { n: number; sum: number }> = {};
for (const part of parts) {
  for (const [sensor, { n, sum }] of Object.entries(part)) {
    const key = Number(sensor);
    total[key] ??= { n: 0, sum: 0 };
    total[key].n += n;
    total[key].sum += sum;
  }
}
assert.deepEqual(total, Stats.sumsBySensor(table));
const means = Object.values(total).map(({ n, sum }) => sum / n);
console.log(
  `${N} rows in ${SLICES} slices, ${means.length} sensors: per-sensor sums identical to a local pass`,
);
