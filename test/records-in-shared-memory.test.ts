// Records made in shared memory with empty(layout, n) / zeros(layout, n)
// carry their structured dtype in the segment's .npy header, so numpy sees
// the fields; an argument a task returns unchanged comes back in shared
// memory with a segmentPath, records and typed arrays alike.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import {
  empty,
  inSharedMemory,
  ProcessPoolExecutor,
  RecordArray,
  RecordLayout,
  release,
  segmentPath,
  zeros,
} from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const skip = hasNumpy ? false : 'python3 with numpy is not installed (pip install numpy to run this test)';

const LAYOUT = new RecordLayout({
  names: ['x', 'id'],
  formats: ['<f8', '<i4'],
  offsets: [0, 8],
  itemsize: 16,
});

test('empty(layout, n) and zeros(layout, n) make records in shared memory', () => {
  const records = empty(LAYOUT, 100);
  assert.ok(records instanceof RecordArray);
  assert.equal(records.length, 100);
  assert.equal(records.layout, LAYOUT);
  assert.ok(inSharedMemory(records));
  const zeroed = zeros([['a', '<u2']], 3);
  assert.deepEqual([zeroed.get(0), zeroed.get(2)], [{ a: 0 }, { a: 0 }]);
  assert.ok(segmentPath(zeroed));
  assert.equal(empty(LAYOUT, 0).length, 0);
  assert.throws(() => empty(LAYOUT, -1), /length must be a non-negative integer/);
  release(records);
  release(zeroed);
});

test('numpy sees the fields of records made with empty(layout, n)', { skip }, () => {
  const records = empty(LAYOUT, 3);
  for (let i = 0; i < 3; i++) records.set(i, { x: i + 0.5, id: -i });
  const script =
    'import sys, json, numpy as np\n' +
    "a = np.load(sys.argv[1], mmap_mode='r')\n" +
    'print(json.dumps({"names": list(a.dtype.names), "itemsize": a.dtype.itemsize, "x": a["x"].tolist(), "id": a["id"].tolist()}))';
  const run = spawnSync('python3', ['-c', script, segmentPath(records)!], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), {
    names: ['x', 'id'],
    itemsize: 16,
    x: [0.5, 1.5, 2.5],
    id: [0, -1, -2],
  });
  release(records);
});

test('an argument a task returns unchanged comes back in shared memory, with a segmentPath', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const identity = (value: unknown): unknown => value;
  // Ordinary memory: the copy made for the task comes back, without another copy.
  const records = new RecordArray(LAYOUT, 50_000);
  records.set(7, { x: 1.5, id: 7 });
  const floats = new Float64Array(50_000).fill(2);
  // Made in shared memory: the task's copy-on-write view comes back as a copy of its own.
  const made = empty(LAYOUT, 50_000);
  made.set(7, { x: 2.5, id: 8 });
  const back = (await ex.submit(identity, { records, floats, made })) as {
    records: RecordArray;
    floats: Float64Array;
    made: RecordArray;
  };
  for (const value of [back.records, back.floats, back.made]) {
    assert.ok(inSharedMemory(value));
    assert.ok(
      segmentPath(value)?.startsWith(`${process.env.SHMEX_SHM_DIR ?? '/dev/shm'}/shmex.`),
      segmentPath(value),
    );
  }
  assert.deepEqual(back.records.get(7), { x: 1.5, id: 7 });
  assert.deepEqual(back.made.get(7), { x: 2.5, id: 8 });
  back.records.setField(7, 'x', 9);
  back.floats[0] = 9;
  assert.equal(records.getField(7, 'x'), 1.5, "the caller's records are unchanged");
  assert.equal(floats[0], 2, "the caller's array is unchanged");
  assert.notEqual(segmentPath(back.made), segmentPath(made));
  for (const value of [back.records, back.floats, back.made, made]) release(value);
});

test('records whose .npy header is longer than 64 KiB travel both ways, and twice from a cached segment', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  // Three fields with names of 30,000 characters: a header of about 90 KB. Each task is
  // self-contained (it runs in the worker as source), so each names the fields itself.
  const fill = (records: RecordArray, base: number): RecordArray => {
    const names = records.layout.fields.map((field) => field.name);
    for (let i = 0; i < records.length; i++)
      names.forEach((name, f) => {
        records.setField(i, name, base + 10 * i + f);
      });
    return records;
  };
  const sum = (records: RecordArray): number => {
    let s = 0;
    for (let i = 0; i < records.length; i++)
      for (const field of records.layout.fields) s += records.getField(i, field.name) as number;
    return s;
  };
  const make = (nameLength: number, base: number): RecordArray => {
    const names = [0, 1, 2].map((i) => String(i).padEnd(nameLength, 'x'));
    const records = empty(
      names.map((name): [string, string] => [name, '<f8']),
      4,
    );
    for (let i = 0; i < 4; i++)
      names.forEach((name, f) => {
        records.setField(i, name, base + 10 * i + f);
      });
    return records;
  };
  // Sum of base + 10 i + f over 4 records and 3 fields.
  const expected = (base: number) => 12 * base + 3 * 10 * 6 + 4 * 3;
  const layout = new RecordLayout(
    [0, 1, 2].map((i): [string, string] => [String(i).padEnd(30_000, 'x'), '<f8']),
  );
  const made = fill(empty(layout, 4), 1);
  assert.equal(await ex.submit(sum, made), expected(1));
  assert.equal(await ex.submit(sum, fill(new RecordArray(layout, 4), 2)), expected(2));
  for (const base of [3, 4]) {
    const back = (await ex.submit(make, 30_000, base)) as RecordArray;
    assert.ok(inSharedMemory(back));
    assert.equal(sum(back), expected(base));
    release(back);
  }
  const echoed = (await ex.submit((value: unknown) => value, made)) as RecordArray;
  assert.equal(sum(echoed), expected(1));
  release(echoed);
  release(made);
});
