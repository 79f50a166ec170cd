// The task of the python-interop example: n records of (sensor id, value).
import { RecordArray } from 'shmex';

export function measurements(n: number): RecordArray {
  const table = new RecordArray(
    [
      ['sensor', '<i4'],
      ['value', '<f8'],
    ],
    n,
  );
  for (let i = 0; i < n; i++) table.set(i, { sensor: i % 7, value: (i % 10) / 2 });
  return table;
}
