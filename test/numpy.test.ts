// Segments are .npy files: numpy opens them with np.load(path, mmap_mode='r')
// and reads the same values, dtypes and shapes, records as structured dtypes.
// Skipped (with a message) where python3 has no numpy.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { from, ProcessPoolExecutor, release, segmentPath } from 'shmex';
import type * as Transfer from './fixtures/transfer-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TRANSFER = new URL('./fixtures/transfer-tasks.js', import.meta.url);

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const skip = hasNumpy ? false : 'python3 with numpy is not installed (pip install numpy to run this test)';

interface Loaded {
  dtype: unknown;
  shape: number[];
  values: unknown[];
}

/** What numpy reads from each path: the dtype (str, or descr for records), the shape, the values. */
function numpyLoad(paths: string[]): Loaded[] {
  const script = `
import json, sys
import numpy as np
out = []
for path in sys.argv[1:]:
    a = np.load(path, mmap_mode='r')
    dtype = a.dtype.descr if a.dtype.names else a.dtype.str
    values = [[r[n].item() for n in a.dtype.names] for r in a] if a.dtype.names else a.tolist()
    out.append({'dtype': dtype, 'shape': list(a.shape), 'values': values})
print(json.dumps(out))
`;
  const run = spawnSync('python3', ['-c', script, ...paths], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Loaded[];
}

test('arrays made with from() are .npy files numpy reads back exactly', { skip }, () => {
  const arrays = [
    from(Float64Array, [1.5, -2, Number.MAX_VALUE, 0.1]),
    from(Float32Array, [0.5, 3]),
    from(Int32Array, [-7, 2 ** 31 - 1]),
    from(Uint8Array, [0, 255, 7]),
    from(Int16Array, [-32768, 1]),
    from(BigInt64Array, [-(2n ** 63n), 42n]),
    from(
      Uint16Array,
      Array.from({ length: 20_000 }, (_, i) => i),
    ),
  ];
  const paths = arrays.map((a) => segmentPath(a));
  // In the default directory: this file's own (SHMEX_SHM_DIR, set by the guard).
  for (const path of paths) assert.ok(path?.startsWith(`${process.env.SHMEX_SHM_DIR}/shmex.`), path);
  const loaded = numpyLoad(paths as string[]);
  const expected = ['<f8', '<f4', '<i4', '|u1', '<i2', '<i8', '<u2'];
  loaded.forEach((got, i) => {
    const array = arrays[i]!;
    assert.equal(got.dtype, expected[i]);
    assert.deepEqual(got.shape, [array.length]);
    assert.deepEqual(
      got.values,
      Array.from(array as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : v)),
    );
  });
  for (const array of arrays) assert.equal(release(array), true);
});

test("a task's results, typed arrays and records, are readable by numpy in the worker's segments", {
  skip,
}, async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const squares = (await ex.submit(
    (n: number) => Float64Array.from({ length: n }, (_, i) => i * i),
    10_000,
  )) as Float64Array;
  const records = await ex.module<typeof Transfer>(TRANSFER).makeRecords(5_000);
  const [a, r] = numpyLoad([segmentPath(squares)!, segmentPath(records)!]);
  assert.equal(a!.dtype, '<f8');
  assert.deepEqual(a!.shape, [10_000]);
  assert.equal(a!.values[9_999], 9_999 ** 2);
  assert.deepEqual(r!.shape, [5_000]);
  // numpy names padding bytes as unnamed void fields in descr.
  assert.deepEqual(
    (r!.dtype as [string, string][]).filter(([name]) => name !== ''),
    [
      ['x', '<f8'],
      ['id', '<i4'],
      ['flag', '|b1'],
    ],
  );
  assert.deepEqual(r!.values[3], [4.5, -3, false]);
  assert.deepEqual(r!.values[4_998], [7_497, -4_998, true]);
  release(squares);
  release(records);
});

test('segmentPath is undefined for an array not in shared memory', () => {
  assert.equal(segmentPath(new Float64Array(10)), undefined);
  assert.equal(segmentPath(new ArrayBuffer(8)), undefined);
});
