// The task of the arrow-table example: per-sensor sums over one Arrow table
// slice. Importing shmex/arrow registers the Arrow codec in the worker.
import 'shmex/arrow';
import type { Table } from 'apache-arrow';

export function sumsBySensor(slice: Table): Record<number, { n: number; sum: number }> {
  const sensor = slice.getChild('sensor')!.toArray() as Int32Array; // views into shared memory
  const value = slice.getChild('value')!.toArray() as Float64Array;
  const out: Record<number, { n: number; sum: number }> = {};
  for (let i = 0; i < sensor.length; i++) {
    const key = sensor[i]!;
    out[key] ??= { n: 0, sum: 0 };
    out[key].n++;
    out[key].sum += value[i]!;
  }
  return out;
}
