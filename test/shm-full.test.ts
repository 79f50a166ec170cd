// When shared memory runs out: a full directory (a tiny tmpfs), a directory
// that is missing or may not be written to, an address space too small for
// a mapping, and many segments under a small limit of open files. Each case
// runs fixtures/shm-full.ts in a child process, most of them in a mount
// namespace of their own (unshare -m, or -rm when not root) where DIR and
// /dev/shm are small tmpfs mounts that vanish with it; the child prints a
// JSON report of what each step did, asserted on here. The expectations: the
// Future (or the synchronous empty()/from()) that needed the space fails with
// a SharedMemoryError that names the directory and says what to do, nothing
// half-made is left, the worker lives on, and the pool keeps working.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Described, Outcome } from './fixtures/shm-full.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const script = fileURLToPath(new URL('./fixtures/shm-full.js', import.meta.url));
const isRoot = process.getuid?.() === 0;
const UNSHARE = isRoot ? ['-m'] : ['-r', '-m'];

const dirs: string[] = [];
after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shmex-full-test-'));
  dirs.push(dir);
  return dir;
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

let mountProblem: string | undefined | null = null;
/** Why a private tmpfs cannot be mounted here, or undefined if it can. */
function cannotMount(): string | undefined {
  if (mountProblem !== null) return mountProblem;
  if (!hasCommand('unshare')) {
    mountProblem = 'unshare (util-linux) is not installed';
    return mountProblem;
  }
  const r = spawnSync(
    'unshare',
    [
      ...UNSHARE,
      'sh',
      '-c',
      'mount -t tmpfs -o size=1m none "$1" && mount -t tmpfs -o size=1m none /dev/shm',
      'sh',
      newDir(),
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  mountProblem =
    r.status === 0
      ? undefined
      : `cannot mount a private tmpfs (unshare ${UNSHARE.join(' ')}): ${(r.stderr || r.error?.message || '').trim()}`;
  return mountProblem;
}

type Report = Record<string, any>;

/** Runs the fixture: `prefix` (a command and its arguments, e.g. prlimit) before node, then `node script mode dir ...args`. */
function runFixture(command: string[], mode: string, dir: string, args: string[] = []): Report {
  // The fixture names its directory; the rest is about /dev/shm (in a namespace, a tmpfs of its own
  // that hides this file's directory under /dev/shm), so it runs without SHMEX_SHM_DIR.
  const { SHMEX_SHM_DIR: _, ...env } = process.env;
  const r = spawnSync(command[0]!, [...command.slice(1), process.execPath, script, mode, dir, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env,
  });
  const lines = r.stdout.trim().split('\n');
  let report: Report;
  try {
    report = JSON.parse(lines[lines.length - 1]!) as Report;
  } catch {
    assert.fail(
      `the fixture (${mode}) printed no report: status ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`,
    );
  }
  assert.equal(report.hung, undefined, `the fixture hung at: ${report.hung}`);
  assert.equal(report.failed, undefined, `the fixture failed: ${JSON.stringify(report.failed)}`);
  assert.equal(r.status, 0, r.stderr);
  return report;
}

/** The fixture in a mount namespace where `dir` is a tmpfs of `size` and /dev/shm one of `devShm`. */
function runInTmpfs(
  mode: string,
  size: string,
  devShm: string,
  args: string[] = [],
  wrap: string[] = [],
): Report {
  const dir = newDir();
  const mount =
    'mount -t tmpfs -o "$1" none "$2" && mount -t tmpfs -o "$3" none /dev/shm && shift 3 && exec "$@"';
  return runFixture(
    ['unshare', ...UNSHARE, 'sh', '-c', mount, 'sh', size, dir, devShm, ...wrap],
    mode,
    dir,
    args,
  );
}

/** A SharedMemoryError of this errno, whose message names `dir` and says what to do. */
function assertClear(error: Described | undefined, errno: string, dir: string, advice: RegExp): void {
  assert.ok(error !== undefined, 'expected an error');
  assert.equal(error.name, 'SharedMemoryError', error.message);
  assert.equal(error.code, 'ERR_SHMEX_SHARED_MEMORY');
  assert.equal(error.errno, errno, error.message);
  assert.ok(error.message.includes(dir), `the message does not name ${dir}: ${error.message}`);
  assert.match(error.message, advice);
}

function rejected(outcome: Outcome | undefined): Described {
  assert.ok(outcome !== undefined);
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome.value)}`);
  return outcome.error!;
}

function fulfilled(outcome: Outcome | undefined): unknown {
  assert.ok(outcome !== undefined);
  assert.equal(outcome.ok, true, `expected success, got ${JSON.stringify(outcome.error)}`);
  return outcome.value;
}

const FULL_ADVICE =
  /is full \(.* free of 4\.0 MiB\): release\(\) arrays .*shmClear\(\).*smaller arrays.*shmDir/;

let fullReport: Report | undefined;
function full(): Report {
  fullReport ??= runInTmpfs('full', 'size=4m', 'size=4m');
  return fullReport;
}

test('a full tmpfs: native create() fails with ENOSPC at once (posix_fallocate) and leaves no file', (t) => {
  const why = cannotMount();
  if (why !== undefined) return t.skip(why);
  const r = full().native;
  assert.equal(r.tooBig.ok, false);
  assert.equal(r.tooBig.error.code, 'ENOSPC');
  assert.equal(r.tooBig.error.syscall, 'posix_fallocate');
  assert.equal(r.rest.error.code, 'ENOSPC', 'a file larger than the space left');
  assert.deepEqual(r.left, ['fits'], 'a failed create() left its file behind');
  assert.equal(r.written, true, 'writing every page of a reserved file');
  assert.deepEqual(r.dirAfter, []);
});

test('an argument larger than a full shmDir rejects its Future with a clear SharedMemoryError (ENOSPC)', (t) => {
  const why = cannotMount();
  if (why !== undefined) return t.skip(why);
  const r = full();
  assert.deepEqual(r.startDir, []);
  // submit() itself does not throw: the Future that needed the space rejects, at once.
  assert.equal(r.bigArgument.submitThrew, false);
  const error = rejected(r.bigArgument.outcome);
  assertClear(error, 'ENOSPC', r.dir, FULL_ADVICE);
  assert.equal(error.syscall, 'posix_fallocate');
  assert.ok(r.bigArgument.outcome.ms < 1000, `took ${r.bigArgument.outcome.ms} ms`);
  assert.deepEqual(r.bigArgument.dirAfter, [], 'something was left in the directory');
  // With two arguments, the first one's segment (complete) goes back to the pool, idle, and is trimmed.
  assertClear(rejected(r.bigSecondArgument.outcome), 'ENOSPC', r.dir, FULL_ADVICE);
  assert.deepEqual(r.bigSecondArgument.dirAfterTrim, []);
});

test('after a full shmDir the pool keeps working; idle pooled segments are given back to make room', (t) => {
  const why = cannotMount();
  if (why !== undefined) return t.skip(why);
  const a = full().afterwards;
  assert.equal(fulfilled(a.small), 10);
  assert.equal(fulfilled(a.medium), 1 << 18);
  assert.equal(fulfilled(a.oneMiB), 1 << 17);
  // 3 MiB fits only once the idle segments of the 2 MiB and 1 MiB arguments are gone,
  // although the worker still maps them (punched out, not just unlinked).
  assert.equal(a.idleInPool.files, 2, 'the case was not exercised: expected two idle segments');
  assert.equal(a.idleInPool.idleBytes, (2.25 + 1.125) * 2 ** 20);
  assert.equal(fulfilled(a.threeMiB), 3 << 17);
  assert.equal(a.samePid, true, 'the worker was replaced');
});

test('a result larger than a full shmDir rejects its Future the same way; the worker lives on', (t) => {
  const why = cannotMount();
  if (why !== undefined) return t.skip(why);
  const r = full();
  const b = r.bigResult;
  for (const outcome of [b.ordinary, b.fromEmpty, b.twoArrays]) {
    assertClear(rejected(outcome), 'ENOSPC', r.dir, FULL_ADVICE);
  }
  // empty() inside the task throws at once, where the task can catch it.
  const caught = fulfilled(b.emptyInWorker) as Record<string, string>;
  assert.equal(caught.threw, true as never);
  assertClear(caught as never, 'ENOSPC', r.dir, FULL_ADVICE);
  assert.equal(b.samePid, true, 'the worker was replaced');
  assert.deepEqual(b.dirAfterTrim, [], 'segments were left once idle ones were trimmed');
});

test('live arrays keep their space: a result that does not fit beside them fails; released, it fits', (t) => {
  const why = cannotMount();
  if (why !== undefined) return t.skip(why);
  const r = full();
  const l = r.liveArrays;
  assertClear(rejected(l.tooMuch), 'ENOSPC', r.dir, FULL_ADVICE);
  assert.equal(l.keepLocalSum, 2 * (1 << 18), 'the live array was damaged');
  // Only the live array's segment (2 MiB and its header, in a 2.25 MiB size class) is there.
  assert.deepEqual(l.dirSizes, [2.25 * 2 ** 20]);
  // release() reaches the worker before the next task does: its segment is reused at once.
  assert.equal(fulfilled(l.afterRelease), 5 * (1 << 18));
  assert.equal(l.samePid, true);
});

test('empty() and from() in the parent throw the clear error synchronously when /dev/shm is full', (t) => {
  const why = cannotMount();
  if (why !== undefined) return t.skip(why);
  const h = full().helpers;
  for (const outcome of [h.empty, h.from, h.fromIterable]) {
    assertClear(rejected(outcome), 'ENOSPC', '/dev/shm', FULL_ADVICE);
  }
  assert.deepEqual(h.devShmAfter, []);
  assert.equal(fulfilled(h.small), 6);
  assert.deepEqual(full().end, { dir: [], devShm: [] }, 'segments were left after shutdown');
});

/** Assertions shared by the missing, read-only and not-writable directory cases. */
function assertUnusable(r: Report, errnos: string[], advice: RegExp): void {
  assert.equal(r.construct.ok, true, 'the constructor threw');
  assert.equal(fulfilled(r.small), 10, 'inline arguments need no directory');
  for (const outcome of [r.largeArgument, r.largeResult]) {
    const error = rejected(outcome);
    assert.ok(errnos.includes(error.errno!), error.message);
    assertClear(error, error.errno!, r.dir, advice);
  }
  const caught = fulfilled(r.emptyInWorker) as Described & { threw: boolean };
  assert.equal(caught.threw, true);
  assertClear(caught, caught.errno!, r.dir, advice);
  assert.equal(fulfilled(r.smallAgain), 10);
  fulfilled(r.shutdown);
}

test('a shmDir that does not exist: a clear error at first use, no crash, no hang', () => {
  const dir = join(newDir(), 'missing');
  const r = runFixture(['env'], 'unusable', dir);
  assertUnusable(
    r,
    ['ENOENT'],
    /does not exist or is not a directory: create it, or pass an existing directory as shmDir/,
  );
});

test('a read-only shmDir: a clear error at first use (EROFS)', (t) => {
  const why = cannotMount();
  if (why !== undefined) return t.skip(why);
  const r = runInTmpfs('unusable', 'ro,size=1m', 'size=1m');
  assertUnusable(r, ['EROFS'], /may not create files in the shared-memory directory .*: make it writable/);
});

test('a shmDir this user may not write to: a clear error at first use (EACCES, runs as nobody)', (t) => {
  if (!isRoot) return t.skip('needs root (to run the fixture as user nobody with runuser)');
  if (!hasCommand('runuser')) return t.skip('runuser is not installed');
  const dir = newDir();
  chmodSync(dir, 0o755); // root's, and not writable by others
  const probe = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', '0'], {
    timeout: 20_000,
  });
  if (probe.status !== 0) return t.skip('cannot run node as user nobody');
  const r = runFixture(['runuser', '-u', 'nobody', '--'], 'unusable', dir);
  assertUnusable(
    r,
    ['EACCES'],
    /\(uid 65534\) may not create files in the shared-memory directory .*: make it writable/,
  );
});

test('mmap failing (ENOMEM, address-space limit): a clear SharedMemoryError on the Future, no crash', (t) => {
  const why = cannotMount() ?? (hasCommand('prlimit') ? undefined : 'prlimit (util-linux) is not installed');
  if (why !== undefined) return t.skip(why);
  const r = runInTmpfs('mmap', 'size=256m', 'size=256m');
  const enomem =
    /cannot map .*: (its address space limit \(ulimit -v\)|.*ran out of file descriptors or mappings)/;
  assert.equal(r.limited, 0, 'prlimit could not set the limit');
  // This process cannot map a 64 MiB argument: the Future rejects; empty() throws.
  const argument = rejected(r.parent.argument);
  assertClear(argument, 'ENOMEM', r.dir, enomem);
  assert.equal(argument.syscall, 'mmap');
  assert.deepEqual(r.parent.dirAfter, [], 'a segment that could not be mapped was left behind');
  assertClear(rejected(r.parent.empty), 'ENOMEM', '/dev/shm', enomem);
  assert.equal(fulfilled(r.parent.small), 1 << 17);
  assert.equal(fulfilled(r.parent.bigAfter), 8 << 20);
  // The worker cannot map an argument, then cannot map its result: both Futures reject, it lives on.
  const w = r.worker;
  const inWorker = rejected(w.argument);
  assert.equal(inWorker.name, 'SharedMemoryError');
  assert.equal(inWorker.errno, 'ENOMEM', inWorker.message);
  assert.equal(fulfilled(w.small), 1 << 17);
  assertClear(rejected(w.result), 'ENOMEM', r.dir, enomem);
  assert.equal(fulfilled(w.bigAfter), 8 << 20);
  assert.equal(w.samePid, true, 'the worker was replaced');
  assert.deepEqual(w.dirAfter, []);
  assert.deepEqual(r.end.dir, []);
});

test('segments do not keep file descriptors: 300 live ones under ulimit -n 64', (t) => {
  const why = cannotMount() ?? (hasCommand('prlimit') ? undefined : 'prlimit (util-linux) is not installed');
  if (why !== undefined) return t.skip(why);
  const r = runInTmpfs('fds', 'size=64m', 'size=4m', ['300'], ['prlimit', '--nofile=64']);
  assert.equal(r.segments, 300, 'each array in a segment of its own');
  assert.ok(r.fdsHolding - r.fdsBefore < 10, `${r.fdsBefore} fds before, ${r.fdsHolding} holding 300 arrays`);
  const w = fulfilled(r.worker) as { fds: number; mappings: number; arrays: number };
  assert.equal(w.arrays, 300);
  assert.ok(w.mappings >= 300, `the worker maps ${w.mappings} segments`);
  assert.ok(w.fds < 64, `the worker has ${w.fds} open files`);
  assert.equal(r.sum, (299 * 300) / 2);
  assert.deepEqual(r.end.dir, []);
});
