// Python reads an array that shmex put in shared memory, without a copy:
// every segment is a .npy file that numpy maps (np.load(path, mmap_mode='r')).
// Run: node --import tsx examples/python-interop/main.ts   (needs python3 with numpy)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ProcessPoolExecutor, type RecordArray, release, segmentPath } from 'shmex';

await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
// A task builds a table of records; it comes back in a segment.
const table = (await ex.submit(
  { module: new URL('./records.js', import.meta.url).href, name: 'measurements' },
  100_000,
)) as RecordArray;

const script = `
import sys, numpy as np
t = np.load(sys.argv[1], mmap_mode='r')
print(t.dtype.names, t.shape[0], float(t['value'].sum()), int(t['sensor'].max()))
`;
const py = spawnSync('python3', ['-c', script, segmentPath(table)!], { encoding: 'utf8' });
assert.equal(py.status, 0, py.stderr);

let sum = 0;
let maxSensor = 0;
for (let i = 0; i < table.length; i++) {
  sum += table.getField(i, 'value') as number;
  maxSensor = Math.max(maxSensor, table.getField(i, 'sensor') as number);
}
assert.equal(py.stdout.trim(), `('sensor', 'value') 100000 ${sum.toFixed(1)} ${maxSensor}`);
console.log(
  `numpy read ${table.length} records from ${segmentPath(table)!.split('/').slice(0, 3).join('/')}: same sums`,
);
release(table);
