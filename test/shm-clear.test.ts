// shmClear() and listSegmentNames(): removing segments whose owner died, and
// the sweep a new executor does. Segment files are made by hand here.
// shmClear({ all: true }) runs on private directories only: on /dev/shm it
// would remove the live segments of any shmex process running meanwhile.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import {
  InvalidArgumentError,
  listSegmentNames,
  ProcessPoolExecutor,
  release,
  shmClear,
  trimSharedMemory,
} from 'shmex';
import { deadOwner, segmentName, self } from './helpers/segments.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

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

test("shmClear() removes a dead owner's segment from /dev/shm and returns its name", () => {
  const dead = makeFile('/dev/shm', segmentName(deadOwner()));
  const name = dead.slice('/dev/shm/'.length);
  assert.ok(listSegmentNames().includes(name));
  const removed = shmClear();
  assert.ok(removed.includes(name), `removed: ${removed.join(', ')}`);
  assert.equal(existsSync(dead), false);
  assert.equal(listSegmentNames().includes(name), false);
});

test('shmClear() keeps a segment of a live owner (this process), in /dev/shm too', () => {
  const live = makeFile('/dev/shm', segmentName(self));
  const removed = shmClear();
  assert.equal(removed.includes(live.slice('/dev/shm/'.length)), false);
  assert.equal(existsSync(live), true);
});

test('a pid that is alive but with another start time is a dead owner (the pid was reused)', () => {
  const reused = makeFile(
    '/dev/shm',
    segmentName({ pid: process.pid, start: String(Number(self.start) + 1) }),
  );
  const gone = makeFile('/dev/shm', segmentName({ pid: 4_194_000, start: '1' })); // no such process
  const removed = shmClear();
  assert.equal(existsSync(reused), false);
  assert.equal(existsSync(gone), false);
  assert.ok(removed.includes(reused.slice('/dev/shm/'.length)));
  assert.ok(removed.includes(gone.slice('/dev/shm/'.length)));
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

test('shmClear() on a directory that does not exist removes nothing; bad options throw', () => {
  assert.deepEqual(shmClear({ dir: join(privateDir(), 'missing') }), []);
  assert.deepEqual(listSegmentNames(join(privateDir(), 'missing')), []);
  assert.throws(() => shmClear(null as never), InvalidArgumentError);
  assert.throws(() => shmClear('all' as never), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
});

test("a new ProcessPoolExecutor sweeps a dead owner's segments from /dev/shm", async () => {
  const owner = deadOwner();
  const dead = [makeFile('/dev/shm', segmentName(owner)), makeFile('/dev/shm', segmentName(owner))];
  const live = makeFile('/dev/shm', segmentName(self));
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  for (const path of dead) assert.equal(existsSync(path), false, `${path} is still there`);
  assert.equal(existsSync(live), true);
  assert.equal(await ex.submit((a: Float64Array) => a.length, new Float64Array(1 << 16)), 1 << 16);
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
