// When a worker's result does not fit because idle pooled segments of the
// other processes of the executor fill the directory: the worker asks the
// parent, which gives back its own idle segments and has every other worker
// give back theirs, and the worker tries once more. Runs fixtures/
// shm-full-peers.ts in a mount namespace of its own (unshare -m, or -rm when
// not root) where DIR is an 8 MiB tmpfs; the child prints a JSON report.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Outcome } from './fixtures/shm-full-peers.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const script = fileURLToPath(new URL('./fixtures/shm-full-peers.js', import.meta.url));
const UNSHARE = process.getuid?.() === 0 ? ['-m'] : ['-r', '-m'];
const dir = mkdtempSync(join(tmpdir(), 'shmex-full-peers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Report = Record<string, any>;

let cached: { report?: Report; skip?: string } | undefined;
/** The fixture's report, or why it cannot run here (no private tmpfs). */
function run(): { report?: Report; skip?: string } {
  if (cached !== undefined) return cached;
  const mount = 'mount -t tmpfs -o size=8m none "$1" && exec "$2" "$3" "$1"';
  const r = spawnSync('unshare', [...UNSHARE, 'sh', '-c', mount, 'sh', dir, process.execPath, script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error !== undefined || (r.status !== 0 && r.stdout.trim() === '')) {
    cached = {
      skip: `cannot mount a private tmpfs (unshare ${UNSHARE.join(' ')}): ${r.error?.message ?? r.stderr}`,
    };
    return cached;
  }
  const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as Report;
  assert.equal(report.hung, undefined, `the fixture hung at: ${report.hung}`);
  assert.equal(report.failed, undefined, `the fixture failed: ${JSON.stringify(report.failed)}`);
  assert.equal(r.status, 0, r.stderr);
  cached = { report };
  return cached;
}

function fulfilled(outcome: Outcome): unknown {
  assert.equal(outcome.ok, true, `expected success, got ${JSON.stringify(outcome.error)}`);
  return outcome.value;
}

test("a result that fits only without the parent's idle segments: the parent gives them back", (t) => {
  const { report, skip } = run();
  if (skip !== undefined) return t.skip(skip);
  const r = report!.parentIdle;
  assert.equal(r.sum, 3 << 17);
  assert.equal(r.idleBefore, 3.25 * 2 ** 20, 'the case was not exercised: the parent held no idle segment');
  assert.deepEqual(fulfilled(r.result), [6 << 17, 2]);
  assert.equal(r.idleAfter, 0);
});

test("a result that fits only without another worker's idle segments: that worker gives them back", (t) => {
  const { report, skip } = run();
  if (skip !== undefined) return t.skip(skip);
  const r = report!.workerIdle;
  assert.equal(r.twoWorkers, true);
  assert.equal(
    r.idleInB,
    3.25 * 2 ** 20,
    'the case was not exercised: the other worker held no idle segment',
  );
  assert.equal(r.parentIdleBefore, 0);
  assert.equal(r.filesBefore, 1, 'only the idle segment of the other worker was in the directory');
  assert.deepEqual(fulfilled(r.result), [6 << 17, 3]);
});

test('with nothing idle anywhere, the result fails with a clear SharedMemoryError; the pool goes on', (t) => {
  const { report, skip } = run();
  if (skip !== undefined) return t.skip(skip);
  const r = report!.nothingIdle;
  assert.equal(r.tooLarge.ok, false);
  const error = r.tooLarge.error;
  assert.equal(error.sharedMemoryError, true);
  assert.equal(error.errno, 'ENOSPC');
  assert.match(error.message, /is full \(.* free of 8\.0 MiB\): release\(\) arrays/);
  assert.ok(error.message.includes(dir), error.message);
  assert.deepEqual(fulfilled(r.after), [1 << 17, 5]);
  assert.deepEqual(report!.end, { files: [] }, 'segments were left in the directory');
});
