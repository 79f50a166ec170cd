// shmClear() and listSegmentNames(): removing segments whose owner died, and
// the sweep a new executor does; the default directory (SHMEX_SHM_DIR, else
// /dev/shm) and when it is read. Segment files are made by hand here.
// shmClear({ all: true }) runs on private directories only: on /dev/shm it
// would remove the live segments of any shmex process running meanwhile.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import {
  empty,
  InvalidArgumentError,
  listSegmentNames,
  ProcessPoolExecutor,
  release,
  segmentPath,
  shmClear,
  trimSharedMemory,
} from 'shmex';
import { deadOwner, segmentName, self } from './helpers/segments.js';
import { DEV_SHM, guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const made: string[] = [];
const dirs: string[] = [];

/** Creates a segment-looking file (with a few bytes) and remembers it for clean-up. */
function makeFile(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, 'not really a segment', { flag: 'wx' });
  made.push(path);
  return path;
}

/** The directory shmex uses where none is given: this file's own (SHMEX_SHM_DIR, set by the guard). */
function defaultDir(): string {
  return process.env.SHMEX_SHM_DIR ?? DEV_SHM;
}

/** Runs `body` with SHMEX_SHM_DIR set to `dir` (or unset), then restores it. */
async function withShmDirVariable(dir: string | undefined, body: () => Promise<void>): Promise<void> {
  const saved = process.env.SHMEX_SHM_DIR;
  if (dir === undefined) delete process.env.SHMEX_SHM_DIR;
  else process.env.SHMEX_SHM_DIR = dir;
  try {
    await body();
  } finally {
    if (saved === undefined) delete process.env.SHMEX_SHM_DIR;
    else process.env.SHMEX_SHM_DIR = saved;
  }
}

function withoutShmDirVariable(body: () => Promise<void>): Promise<void> {
  return withShmDirVariable(undefined, body);
}

function privateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shmex-clear-test-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const path of made.splice(0)) rmSync(path, { force: true });
});
after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test("shmClear() removes a dead owner's segment from the default directory and returns its name", () => {
  const dead = makeFile(defaultDir(), segmentName(deadOwner()));
  const name = basename(dead);
  assert.ok(listSegmentNames().includes(name));
  const removed = shmClear();
  assert.ok(removed.includes(name), `removed: ${removed.join(', ')}`);
  assert.equal(existsSync(dead), false);
  assert.equal(listSegmentNames().includes(name), false);
});

test('shmClear() keeps a segment of a live owner (this process)', () => {
  const live = makeFile(defaultDir(), segmentName(self));
  const removed = shmClear();
  assert.equal(removed.includes(basename(live)), false);
  assert.equal(existsSync(live), true);
});

test('a pid that is alive but with another start time is a dead owner (the pid was reused)', () => {
  const reused = makeFile(
    defaultDir(),
    segmentName({ pid: process.pid, start: String(Number(self.start) + 1) }),
  );
  const gone = makeFile(defaultDir(), segmentName({ pid: 4_194_000, start: '1' })); // no such process
  const removed = shmClear();
  assert.equal(existsSync(reused), false);
  assert.equal(existsSync(gone), false);
  assert.ok(removed.includes(basename(reused)));
  assert.ok(removed.includes(basename(gone)));
});

// On /dev/shm itself other shmex processes may sweep too, so these check what is left, not what was returned.
test('without SHMEX_SHM_DIR, shmClear(), listSegmentNames() and a new executor work on /dev/shm', async () => {
  const owner = deadOwner();
  const dead = [makeFile(DEV_SHM, segmentName(owner)), makeFile(DEV_SHM, segmentName(owner))];
  const live = makeFile(DEV_SHM, segmentName(self));
  await withoutShmDirVariable(async () => {
    assert.ok(listSegmentNames().includes(basename(live)));
    shmClear();
    for (const path of dead) assert.equal(existsSync(path), false, `${path} is still there`);
    assert.equal(existsSync(live), true);
    rmSync(live);
    const stray = makeFile(DEV_SHM, segmentName(owner));
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    assert.equal(ex.shmDir, DEV_SHM);
    assert.equal(existsSync(stray), false, 'the executor swept /dev/shm as it started');
    assert.equal(await ex.submit((a: Float64Array) => a.length, new Float64Array(1 << 16)), 1 << 16);
  });
});

test('SHMEX_SHM_DIR is read when used: set after import, the executor, its workers and empty() use it', async () => {
  const dir = privateDir();
  await withShmDirVariable(dir, async () => {
    assert.equal(defaultDir(), dir);
    const dead = makeFile(dir, segmentName(deadOwner()));
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, threshold: 1 });
    assert.equal(ex.shmDir, dir);
    assert.equal(existsSync(dead), false, 'the executor swept its directory');
    const made = (await ex.submit(() => empty(Float64Array, 8))) as Float64Array;
    assert.equal(dirname(segmentPath(made)!), dir, 'empty() in the worker');
    assert.equal(release(made), true);
    const x = empty(Float64Array, 8);
    assert.equal(dirname(segmentPath(x)!), dir, 'empty() in this process');
    assert.equal(release(x), true);
  });
  trimSharedMemory();
  assert.deepEqual(listSegmentNames(dir), []);
});

test('shmClear({ dir }) and shmClear({ dir, all: true }) in a private directory', () => {
  const dir = privateDir();
  const deadName = segmentName(deadOwner());
  const liveName = segmentName(self);
  makeFile(dir, deadName);
  makeFile(dir, liveName);
  // Names that are not shmex segment names are never touched, even with all: true.
  const strangers = [
    'unrelated',
    'shmex.',
    'shmex.12.34',
    'shmex.12.34.abc',
    `shmex.12.34.${'A'.repeat(24)}`,
    `shmex.12.34.${'0'.repeat(24)}.extra`,
    `shmex-${process.pid}.${self.start}.${'0'.repeat(24)}`,
  ];
  for (const name of strangers) makeFile(dir, name);
  assert.deepEqual(listSegmentNames(dir).sort(), [deadName, liveName].sort());

  assert.deepEqual(shmClear({ dir }), [deadName]);
  assert.deepEqual(listSegmentNames(dir), [liveName]);
  assert.deepEqual(shmClear({ dir }), [], 'nothing more to clear');

  assert.deepEqual(shmClear({ dir, all: true }), [liveName]);
  assert.deepEqual(listSegmentNames(dir), []);
  assert.deepEqual(readdirSync(dir).sort(), [...strangers].sort());
});

test("shmClear({ dir }) sweeps a dead maker's LocalCluster machine directory, and only that", () => {
  const dir = privateDir();
  const dead = deadOwner();
  const machineDir = (owner: { pid: number; start: string }, tail: string) => {
    const path = join(dir, `shmex-machine-${owner.pid}.${owner.start}-${tail}`);
    mkdirSync(path);
    return path;
  };
  // Its maker and its machines died at once (SIGKILL): a dead machine's segment is left inside.
  const leftBehind = machineDir(dead, 'aB3dE6');
  makeFile(leftBehind, segmentName(deadOwner()));
  // Its maker is alive (this process): a LocalCluster of ours, in use.
  const ours = machineDir(self, 'Xy9Zk2');
  makeFile(ours, segmentName(deadOwner()));
  // Its maker is dead, but a machine of it is still alive (exiting): its segment keeps it.
  const exiting = machineDir(dead, 'Qw1Er2');
  const live = makeFile(exiting, segmentName(self));
  // Not a machine directory of this pattern: never touched.
  mkdirSync(join(dir, 'shmex-machine-abcdef'));

  assert.deepEqual(shmClear({ dir }), []);
  assert.equal(existsSync(leftBehind), false, "the dead maker's directory is gone");
  assert.equal(readdirSync(ours).length, 1, "a live maker's directory is not looked into");
  assert.deepEqual(readdirSync(exiting), [basename(live)]);
  assert.deepEqual(
    readdirSync(dir).sort(),
    [basename(ours), basename(exiting), 'shmex-machine-abcdef'].sort(),
  );
});

test('shmClear() on a directory that does not exist removes nothing; bad options throw', () => {
  assert.deepEqual(shmClear({ dir: join(privateDir(), 'missing') }), []);
  assert.deepEqual(listSegmentNames(join(privateDir(), 'missing')), []);
  assert.throws(() => shmClear(null as never), InvalidArgumentError);
  assert.throws(() => shmClear('all' as never), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
});

test('an executor with its own shmDir sweeps that directory and moves arrays through it', async () => {
  const dir = privateDir();
  const deadName = segmentName(deadOwner());
  const liveName = segmentName(self);
  makeFile(dir, deadName);
  makeFile(dir, liveName);
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, shmDir: dir, threshold: 1 });
    assert.deepEqual(listSegmentNames(dir), [liveName]);
    const x = Float64Array.from({ length: 1000 }, (_, i) => i);
    const y = (await ex.submit((a: Float64Array) => a.map((v) => v * 2), x)) as Float64Array;
    assert.equal(y[999], 1998);
    assert.equal(release(y), true);
  }
  // Every segment made for that task (argument and result) is gone once idle ones are trimmed.
  trimSharedMemory();
  assert.deepEqual(listSegmentNames(dir), [liveName]);
});
