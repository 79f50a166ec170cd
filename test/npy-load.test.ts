// loadNpy maps .npy files numpy wrote (or this test wrote, where numpy is
// missing) as typed arrays and records, copy-on-write or shared, and refuses
// files it must not map: a bad header, truncated data, a symbolic link, a
// FIFO, Fortran order, object and big-endian dtypes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadNpy, ProcessPoolExecutor, RecordArray, release, SharedMemoryError } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const skip = hasNumpy ? false : 'python3 with numpy is not installed (pip install numpy to run this test)';

const dir = mkdtempSync(join(tmpdir(), 'shmex-npy-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function python(script: string): void {
  const run = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
}

/** A .npy file as numpy 1.0 writes one: magic, version, header length, the header padded to 64 bytes, the data. */
function writeNpy(name: string, header: string, data: Uint8Array): string {
  const unpadded = 10 + header.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const text = header.padEnd(total - 10 - 1, ' ');
  const bytes = Buffer.alloc(total + data.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  bytes.writeUInt16LE(text.length + 1, 8);
  bytes.write(text, 10, 'latin1');
  bytes[total - 1] = 0x0a;
  bytes.set(data, total);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const refused =
  (pattern: RegExp, errno = 'EINVAL') =>
  (error: unknown) =>
    error instanceof SharedMemoryError &&
    error.code === 'ERR_SHMEX_SHARED_MEMORY' &&
    error.errno === errno &&
    pattern.test(error.message);

test('numpy-written files of several dtypes load as typed arrays with their shape', { skip }, () => {
  python(`
import sys, numpy as np
d = sys.argv[1]
np.save(d + '/f8.npy', np.arange(12, dtype='<f8').reshape(3, 4) / 4)
np.save(d + '/f4.npy', np.array([0.5, -1.25], dtype='<f4'))
np.save(d + '/i8.npy', np.array([-2**63, 2**63 - 1], dtype='<i8'))
np.save(d + '/u2.npy', np.arange(5, dtype='<u2'))
np.save(d + '/i1.npy', np.array([-128, 127], dtype='i1'))
np.save(d + '/b1.npy', np.array([True, False, True]))
np.save(d + '/scalar.npy', np.float64(2.5))
np.save(d + '/empty.npy', np.zeros((0, 3), dtype='<i4'))
`);
  const f8 = loadNpy(join(dir, 'f8.npy'));
  assert.ok(f8.array instanceof Float64Array);
  assert.deepEqual(f8.shape, [3, 4]);
  assert.equal(f8.dtype, '<f8');
  assert.deepEqual(
    [...f8.array],
    Array.from({ length: 12 }, (_, i) => i / 4),
  );
  assert.deepEqual([...(loadNpy(join(dir, 'f4.npy')).array as Float32Array)], [0.5, -1.25]);
  assert.deepEqual(
    [...(loadNpy(join(dir, 'i8.npy')).array as BigInt64Array)],
    [-(2n ** 63n), 2n ** 63n - 1n],
  );
  assert.deepEqual([...(loadNpy(join(dir, 'u2.npy')).array as Uint16Array)], [0, 1, 2, 3, 4]);
  assert.deepEqual([...(loadNpy(join(dir, 'i1.npy')).array as Int8Array)], [-128, 127]);
  const bools = loadNpy(join(dir, 'b1.npy'));
  assert.ok(bools.array instanceof Uint8Array);
  assert.equal(bools.dtype, '|b1');
  assert.deepEqual([...bools.array], [1, 0, 1]);
  const scalar = loadNpy(join(dir, 'scalar.npy'));
  assert.deepEqual(scalar.shape, []);
  assert.deepEqual([...(scalar.array as Float64Array)], [2.5]);
  const empty = loadNpy(join(dir, 'empty.npy'));
  assert.deepEqual(empty.shape, [0, 3]);
  assert.equal(empty.array.length, 0);
  assert.equal(release(f8.array), true, 'release() unmaps a loaded array');
  assert.equal(f8.array.length, 0);
});

test('a numpy structured array loads as records, padding included', { skip }, () => {
  python(`
import sys, numpy as np
dt = np.dtype([('x', '<f8'), ('id', '<i4'), ('flag', '?')], align=True)
r = np.zeros(4, dtype=dt)
r['x'] = [0.5, 1.5, 2.5, 3.5]; r['id'] = [-1, -2, -3, -4]; r['flag'] = [True, False, True, False]
np.save(sys.argv[1] + '/records.npy', r)
`);
  const { array, shape } = loadNpy(join(dir, 'records.npy'));
  assert.ok(array instanceof RecordArray);
  assert.deepEqual(shape, [4]);
  assert.equal(array.layout.itemsize, 16);
  assert.deepEqual(
    array.layout.fields.map((f) => [f.name, f.dtype, f.offset]),
    [
      ['x', '<f8', 0],
      ['id', '<i4', 8],
      ['flag', '|b1', 12],
    ],
  );
  assert.deepEqual(array.get(2), { x: 2.5, id: -3, flag: true });
});

test("copy-on-write leaves the file as it was; 'shared' writes reach the file and numpy", { skip }, () => {
  python(`
import sys, numpy as np
np.save(sys.argv[1] + '/cow.npy', np.zeros(4, dtype='<i4'))
np.save(sys.argv[1] + '/shared.npy', np.zeros(4, dtype='<i4'))
`);
  const cow = loadNpy(join(dir, 'cow.npy')).array as Int32Array;
  cow[1] = 7;
  const shared = loadNpy(join(dir, 'shared.npy'), { mode: 'shared' }).array as Int32Array;
  shared[1] = 9;
  const run = spawnSync(
    'python3',
    [
      '-c',
      'import sys, numpy as np; print(np.load(sys.argv[1]).tolist(), np.load(sys.argv[2]).tolist())',
      join(dir, 'cow.npy'),
      join(dir, 'shared.npy'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(run.stdout.trim(), '[0, 0, 0, 0] [0, 9, 0, 0]');
  assert.equal(cow[1], 7, 'the copy-on-write array keeps its own write');
});

test('files written here (without numpy) load: float64 2-D, records with padding', () => {
  const data = new Float64Array([1, 2, 3, 4, 5, 6]);
  const path = writeNpy(
    'plain.npy',
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
    new Uint8Array(data.buffer),
  );
  const loaded = loadNpy(path);
  assert.deepEqual(loaded.shape, [2, 3]);
  assert.deepEqual([...(loaded.array as Float64Array)], [1, 2, 3, 4, 5, 6]);

  const records = new RecordArray(
    { names: ['id', 'w'], formats: ['<i2', '<f4'], offsets: [0, 4], itemsize: 12 },
    2,
  );
  records.set(0, { id: 3, w: 0.5 });
  records.set(1, { id: -4, w: 8 });
  const rpath = writeNpy(
    'records.npy',
    `{'descr': ${records.layout.npyDescr()}, 'fortran_order': False, 'shape': (2,), }`,
    records.bytes(),
  );
  const back = loadNpy(rpath).array as RecordArray;
  assert.deepEqual(
    [back.get(0), back.get(1)],
    [
      { id: 3, w: 0.5 },
      { id: -4, w: 8 },
    ],
  );
  assert.deepEqual(back.layout.toSpec(), records.layout.toSpec());
});

test('a loaded array travels to a task as an ordinary array (a copy)', async () => {
  const path = writeNpy(
    'travel.npy',
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
    new Uint8Array(new Float64Array([1, 2, 3]).buffer),
  );
  const { array } = loadNpy(path, { mode: 'shared' });
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const doubled = await ex.submit((a: Float64Array) => {
    a[0] = 100;
    return a.map((v) => v * 2);
  }, array as Float64Array);
  assert.deepEqual([...doubled], [200, 4, 6]);
  assert.equal((array as Float64Array)[0], 1, "the task's write went to its copy");
});

test('hostile and unsupported files are refused with a reason', () => {
  const header = (descr: string, shape = '(4,)', fortran = 'False') =>
    `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  const four = new Uint8Array(32);
  const cases: Array<[string, () => string, RegExp, string?]> = [
    [
      'bad magic',
      () => {
        writeFileSync(join(dir, 'magic.npy'), 'NUMPY not really');
        return join(dir, 'magic.npy');
      },
      /does not start with the magic/,
    ],
    [
      'bad header',
      () => writeNpy('header.npy', "{'descr': '<f8', 'shape': (4,)}", four),
      /must have exactly the keys/,
    ],
    [
      'a header longer than the file',
      () => {
        const p = writeNpy('short-header.npy', header("'<f8'"), four);
        truncateSync(p, 40);
        return p;
      },
      /is truncated/,
    ],
    [
      'truncated data',
      () => {
        const p = writeNpy('truncated.npy', header("'<f8'"), four);
        truncateSync(p, readFileSync(p).length - 1);
        return p;
      },
      /truncated: its header describes 32 bytes of data after byte 128, but the file has 159 bytes/,
    ],
    [
      'a symbolic link',
      () => {
        const target = writeNpy('target.npy', header("'<f8'"), four);
        symlinkSync(target, join(dir, 'link.npy'));
        return join(dir, 'link.npy');
      },
      /symbolic link/,
      'ELOOP',
    ],
    ['a directory', () => dir, /a directory, not a regular file/],
    [
      'Fortran order',
      () => writeNpy('fortran.npy', header("'<f8'", '(2, 2)', 'True'), four),
      /Fortran order/,
    ],
    ['an object dtype', () => writeNpy('object.npy', header("'|O'"), four), /object array/],
    ['a big-endian dtype', () => writeNpy('big.npy', header("'>f8'"), four), /big-endian/],
    ['a complex dtype', () => writeNpy('complex.npy', header("'<c8'"), four), /no JavaScript typed array/],
    [
      'a nested record',
      () => writeNpy('nested.npy', header("[('a', [('b', '<f8')])]"), four),
      /nested record/,
    ],
    ['a huge shape', () => writeNpy('huge.npy', header("'<f8'", '(4000000000000,)'), four), /truncated/],
  ];
  const fifo = join(dir, 'fifo.npy');
  if (spawnSync('mkfifo', [fifo]).status === 0)
    cases.push(['a FIFO', () => fifo, /a FIFO, not a regular file/]);
  for (const [what, make, pattern, errno] of cases) {
    const path = make();
    assert.throws(() => loadNpy(path), refused(pattern, errno), what);
  }
  assert.throws(() => loadNpy(join(dir, 'plain.npy'), { mode: 'read-only' as never }), /no 'read-only'/);
  assert.throws(() => loadNpy(join(dir, 'plain.npy'), { mmap: 'r' } as never), /mmap/);
  assert.equal(readFileSync(join(dir, 'target.npy')).length, 128 + 32, 'nothing was written');
});
