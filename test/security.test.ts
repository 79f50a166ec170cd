// Who else can reach a segment. Segments are files in a world-writable
// directory (/dev/shm), so: they are created with mode 0600 whatever the
// umask; their names carry 96 random bits (not a counter, not derived from
// the time); another user can neither open nor remove them; and creating
// one never opens a file that is already there (EEXIST, even for a symbolic
// link or a FIFO), so a name squatted by someone else is an error, never an
// attachment to their file. The other-user checks run as `nobody` with
// runuser, and are skipped when this process is not root or runuser is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { empty, ProcessPoolExecutor, release, SharedMemoryError, trimSharedMemory } from 'shmex';
import { native } from '../dist/shm/native.js';
import { SegmentBook } from '../dist/shm/segment-book.js';
import { newSegmentName, parseSegmentName } from '../dist/shm/segment-names.js';
import { SegmentPool } from '../dist/shm/segment-pool.js';
import { SegmentStore } from '../dist/shm/segment-store.js';
import { familySegments, ownerPid, ownSegments } from './helpers/segments.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

// About /dev/shm itself (its mode, its sticky bit): this file works there, not in a directory of its own.
guardSharedMemory({ devShm: true });

const SHM = '/dev/shm';
const dirs: string[] = [];
after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A directory of its own in /dev/shm (a tmpfs, like segments): not a segment name, so sweeps leave it alone. */
function privateDir(): string {
  const dir = mkdtempSync(join(SHM, 'shmex-security-test-'));
  dirs.push(dir);
  return dir;
}

function mode(path: string): number {
  return statSync(path).mode & 0o7777;
}

function randomPart(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

/** Names of segments that appear in /dev/shm while `run` runs (idle pooled segments are trimmed first). */
async function newSegments<T>(run: () => Promise<T> | T): Promise<{ value: T; names: string[] }> {
  trimSharedMemory();
  const before = new Set(familySegments());
  const value = await run();
  return { value, names: familySegments().filter((name) => !before.has(name)) };
}

test('segments are created with mode 0600 and owned by this user, whatever the umask', async () => {
  const uid = process.getuid!();
  const previous = process.umask(0); // an explicit 0600 must not depend on the umask taking bits away
  try {
    const { value: x, names } = await newSegments(() => empty(Float64Array, 1 << 14));
    assert.equal(names.length, 1, `new segments: ${names.join(', ')}`);
    const path = join(SHM, names[0]!);
    assert.equal(mode(path).toString(8), '600');
    assert.equal(statSync(path).uid, uid);
    assert.equal(release(x), true);
  } finally {
    process.umask(previous);
  }

  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  // An argument (a segment of this process) and a result (a segment of the worker).
  const { value: y, names } = await newSegments(() =>
    ex.submit((a: Float64Array) => a.map((v) => v + 1), new Float64Array(1 << 17)),
  );
  assert.equal(y[0], 1);
  const mine = names.filter((name) => ownerPid(name) === process.pid);
  const theirs = names.filter((name) => ownerPid(name) !== process.pid);
  assert.ok(mine.length >= 1, `no argument segment among ${names.join(', ')}`);
  assert.ok(theirs.length >= 1, `no result segment among ${names.join(', ')}`);
  // And one a task makes with empty().
  const { value: z, names: made } = await newSegments(() =>
    ex.submit((n: number) => empty(Float64Array, n).fill(7), 1 << 14),
  );
  assert.equal(z[0], 7);
  assert.ok(made.length >= 1);
  for (const name of [...names, ...made]) {
    const path = join(SHM, name);
    if (!existsSync(path)) continue; // an idle one trimmed meanwhile
    assert.equal(mode(path).toString(8), '600', `${name} has mode ${mode(path).toString(8)}`);
    assert.equal(statSync(path).uid, uid);
  }
  release(y);
  release(z);
});

test('segment names end in 24 random hex digits: different across executors, not a sequence', async () => {
  // Names of real segments made by two executors (and their workers).
  const seen: string[] = [];
  for (let i = 0; i < 2; i++) {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const { value: y, names } = await newSegments(() =>
      ex.submit((a: Float64Array) => a.slice(), new Float64Array(1 << 14).fill(i)),
    );
    assert.ok(names.length >= 2, `expected an argument and a result segment, got ${names.join(', ')}`);
    seen.push(...names);
    release(y);
  }
  for (const name of seen) {
    assert.ok(parseSegmentName(name) !== undefined, name);
    assert.match(randomPart(name), /^[0-9a-f]{24}$/);
  }
  assert.equal(new Set(seen.map(randomPart)).size, seen.length, 'a random part was repeated');

  // Many names in a row, as one process makes them: their random parts look independent.
  const values = Array.from({ length: 256 }, () => BigInt(`0x${randomPart(newSegmentName())}`));
  assert.equal(new Set(values).size, values.length);
  const steps = new Set(values.slice(1).map((v, i) => v - values[i]!));
  assert.ok(steps.size > 1, 'consecutive names differ by a constant: a counter');
  const popcount = (v: bigint) => v.toString(2).replace(/0/g, '').length;
  for (let i = 1; i < values.length; i++) {
    // Independent 96-bit values differ in about 48 bits; a counter or a clock in about 1 to 10.
    const distance = popcount(values[i]! ^ values[i - 1]!);
    assert.ok(distance >= 16, `names ${i - 1} and ${i} differ in only ${distance} of 96 bits`);
  }
  for (let bit = 0n; bit < 96n; bit++) {
    // Each bit is set in about half the names (a fixed or slowly moving part would not be).
    const set = values.filter((v) => ((v >> bit) & 1n) === 1n).length;
    assert.ok(set >= 64 && set <= 192, `bit ${bit} is set in ${set} of 256 names`);
  }
});

/** Why the other-user checks cannot run here, or undefined if they can. */
function otherUserUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (to run a command as another user with runuser)';
  const probe = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', 'process.exit(0)'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (probe.error !== undefined) return `runuser is not available: ${probe.error.message}`;
  if (probe.status !== 0) return `cannot run node as user nobody: ${probe.stderr.trim()}`;
  return undefined;
}

/** What user nobody gets trying to read, write, truncate, remove and replace `path`: an error code or 'ok' for each. */
function asNobody(path: string): Record<string, string> {
  const script = `
    const fs = require('fs');
    const p = process.argv[1];
    const out = {};
    const tryIt = (what, fn) => { try { fn(); out[what] = 'ok'; } catch (e) { out[what] = e.code; } };
    tryIt('read', () => fs.closeSync(fs.openSync(p, 'r')));
    tryIt('write', () => fs.closeSync(fs.openSync(p, 'r+')));
    tryIt('truncate', () => fs.truncateSync(p, 0));
    tryIt('unlink', () => fs.unlinkSync(p));
    tryIt('rename', () => fs.renameSync(p, p + '.moved'));
    process.stdout.write(JSON.stringify(out));
  `;
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script, path], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

test('another user can neither open nor remove a segment (runs as nobody)', async (t) => {
  const why = otherUserUnavailable();
  if (why !== undefined) {
    t.skip(why);
    return;
  }
  const sticky = (statSync(SHM).mode & 0o1000) !== 0;
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const x = empty(Float64Array, 1 << 14).fill(3); // a segment of this process
  const { value: y, names } = await newSegments(() =>
    ex.submit((n: number) => new Float64Array(n).fill(4), 1 << 14),
  ); // and one of a worker
  const targets = [...ownSegments().filter((n) => !names.includes(n)), ...names].filter((name) =>
    existsSync(join(SHM, name)),
  );
  assert.ok(targets.length >= 2);
  for (const name of targets) {
    const path = join(SHM, name);
    const got = asNobody(path);
    assert.equal(got.read, 'EACCES', `${name}: ${JSON.stringify(got)}`);
    assert.equal(got.write, 'EACCES', `${name}: ${JSON.stringify(got)}`);
    assert.equal(got.truncate, 'EACCES', `${name}: ${JSON.stringify(got)}`);
    if (sticky) {
      // /dev/shm is sticky (mode 1777): only a file's owner may remove or rename it.
      assert.equal(got.unlink, 'EPERM', `${name}: ${JSON.stringify(got)}`);
      assert.equal(got.rename, 'EPERM', `${name}: ${JSON.stringify(got)}`);
    }
    assert.ok(existsSync(path), `${name} is gone`);
    assert.equal(existsSync(`${path}.moved`), false);
  }
  assert.equal(x[0], 3);
  assert.equal(y[0], 4);
  release(x);
  release(y);
});

test('native create() never opens what is already at its path: EEXIST, and the file is left alone', () => {
  const dir = privateDir();
  const existing = join(dir, 'existing');
  writeFileSync(existing, 'somebody else’s data', { mode: 0o644 });
  assert.throws(() => native.create(existing, 1 << 16), { code: 'EEXIST', syscall: 'open' });
  assert.equal(readFileSync(existing, 'utf8'), 'somebody else’s data');
  assert.equal(mode(existing).toString(8), '644');
  assert.equal(statSync(existing).size, Buffer.byteLength('somebody else’s data'));

  // A symbolic link at the name, to a file or to nowhere: neither followed nor replaced.
  const target = join(dir, 'target');
  writeFileSync(target, 'target data');
  const link = join(dir, 'link');
  symlinkSync(target, link);
  assert.throws(() => native.create(link, 1 << 16), { code: 'EEXIST' });
  assert.equal(readFileSync(target, 'utf8'), 'target data');
  const dangling = join(dir, 'dangling');
  symlinkSync(join(dir, 'nowhere'), dangling);
  assert.throws(() => native.create(dangling, 1 << 16), { code: 'EEXIST' });
  assert.equal(existsSync(join(dir, 'nowhere')), false, 'create() made the file a dangling link points to');
  assert.ok(lstatSync(dangling).isSymbolicLink());

  // A name created and then failing to reserve its space is removed again (here: an impossible size).
  const huge = join(dir, 'huge');
  assert.throws(
    () => native.create(huge, 2 ** 52),
    (error: NodeJS.ErrnoException) => {
      assert.ok(['EFBIG', 'ENOSPC', 'EINVAL'].includes(error.code!), `${error.code}: ${error.message}`);
      return true;
    },
  );
  assert.equal(existsSync(huge), false, 'a failed create() left its file behind');
});

/** native.open, then native.map of that descriptor (as SegmentStore.attach does, without its checks). */
function openAndMap(path: string, offset: number, length: number): ArrayBuffer {
  const fd = native.open(path, false);
  try {
    return native.map(fd, offset, length, false, false);
  } finally {
    native.close(fd);
  }
}

test('native open() and map() refuse a FIFO (without blocking) and a file of another user', (t) => {
  const dir = privateDir();
  const fifo = join(dir, 'fifo');
  if (spawnSync('mkfifo', [fifo]).status !== 0) {
    t.skip('mkfifo is not available');
    return;
  }
  assert.throws(() => native.create(fifo, 1 << 16), { code: 'EEXIST' });
  // In a child process: a blocking open() of a FIFO would hang whoever calls it.
  const nativePath = new URL('../dist/shm/native.js', import.meta.url).href;
  const script = `
    const { native } = await import(${JSON.stringify(nativePath)});
    try { native.map(native.open(process.argv[1], false), 0, 16, false, false); console.log('mapped'); }
    catch (e) { console.log(e.code); }
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, fifo], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(r.signal, null, 'open() of a FIFO blocked (the child was killed after 10 s)');
  assert.equal(r.stdout.trim(), 'EPERM', r.stderr);

  if (process.getuid?.() === 0) {
    const foreign = join(dir, 'foreign');
    writeFileSync(foreign, Buffer.alloc(1 << 16, 1));
    chownSync(foreign, 65534, 65534);
    assert.throws(() => openAndMap(foreign, 0, 1 << 16), { code: 'EPERM' });
  }
});

/** Runs `fn` while crypto.randomBytes returns `fill` bytes, so that the next segment name is known in advance. */
function withPredictableNames<T>(fill: number, fn: () => T): T {
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  const original = crypto.randomBytes;
  crypto.randomBytes = ((size: number) => Buffer.alloc(size, fill)) as typeof crypto.randomBytes;
  syncBuiltinESMExports(); // the named import in segment-names.js follows
  try {
    return fn();
  } finally {
    crypto.randomBytes = original;
    syncBuiltinESMExports();
  }
}

test('a segment name someone else took is an error (SharedMemoryError, EEXIST), never their file', () => {
  const dir = privateDir();
  const squatted = withPredictableNames(0xab, () => newSegmentName());
  assert.match(squatted, /\.(ab){12}$/);
  const path = join(dir, squatted);
  writeFileSync(path, Buffer.alloc(1 << 17, 0x5a)); // large enough to pass for a segment

  const check = (error: unknown) => {
    assert.ok(error instanceof SharedMemoryError, String(error));
    assert.equal(error.code, 'ERR_SHMEX_SHARED_MEMORY');
    assert.equal(error.errno, 'EEXIST');
    assert.ok(error.message.includes(squatted), error.message);
    assert.match(error.message, /already there/);
    return true;
  };
  const pool = new SegmentPool(new SegmentStore(dir), { idleMs: 60_000, maxIdleBytes: 2 ** 31 });
  assert.throws(() => withPredictableNames(0xab, () => pool.acquire(1 << 16)), check);
  assert.equal(pool.size, 0);
  const book = new SegmentBook(new SegmentStore(dir));
  assert.throws(
    () => withPredictableNames(0xab, () => book.allocate(1 << 16, { descr: "'<f8'", shape: [1 << 13] })),
    check,
  );
  assert.equal(book.pool.size, 0);
  // The file is untouched: same size, same bytes, and still there.
  const bytes = readFileSync(path);
  assert.equal(bytes.length, 1 << 17);
  assert.ok(bytes.every((b) => b === 0x5a));

  // With the usual random names, the same book works in that directory.
  const buffer = book.allocate(1 << 16, { descr: "'<f8'", shape: [1 << 13] });
  assert.equal(buffer.byteLength, 1 << 16);
  assert.equal(book.release(buffer), true);
  assert.deepEqual(book.pool.trim(0).length, 1);
});
