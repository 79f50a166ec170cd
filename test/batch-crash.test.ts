import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { from, ProcessPoolExecutor, release, WorkerCrashedError } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const quick = (i: number) => i;

/** Many quick tasks first, so the pool sends several to a worker per message. */
async function warm(ex: ProcessPoolExecutor): Promise<void> {
  for (let round = 0; round < 20; round++) {
    await Promise.all(Array.from({ length: 20 }, (_, i) => ex.submit(quick, i)));
  }
}

test('a crash in the middle of a batch of quick tasks: every task runs at most once, later ones run elsewhere', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shmex-batch-'));
  const log = join(dir, 'log');
  try {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    await warm(ex);
    const mark = async (i: number, file: string) => {
      const fs = await import('node:fs');
      fs.appendFileSync(file, `${i}\n`);
      return i;
    };
    const futures = [0, 1, 2, 3, 4].map((i) => ex.submit(mark, i, log));
    const crash = ex.submit(() => process.exit(7));
    const after = [5, 6, 7].map((i) => ex.submit(mark, i, log));
    const settled = await Promise.allSettled([...futures, crash, ...after]);
    const ran = readFileSync(log, 'utf8').trim().split('\n').map(Number);
    assert.deepEqual(ran, [0, 1, 2, 3, 4, 5, 6, 7], 'each task ran exactly once, in order');
    // Tasks that finished before the crash either delivered their result or fail as lost: never re-run.
    for (const [i, outcome] of settled.slice(0, 5).entries()) {
      if (outcome.status === 'fulfilled') assert.equal(outcome.value, i);
      else assert.ok(outcome.reason instanceof WorkerCrashedError);
    }
    const crashed = settled[5]!;
    assert.equal(crashed.status, 'rejected');
    assert.equal((crashed as PromiseRejectedResult).reason.exitCode, 7);
    assert.deepEqual(
      settled.slice(6).map((o) => (o.status === 'fulfilled' ? o.value : o.reason)),
      [5, 6, 7],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a task that released its zero-copy input, then lost with its worker, does not free the caller array twice', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  await warm(ex);
  const x = from(Float64Array, new Float64Array(1 << 17).fill(1));
  const sumAndRelease = (a: Float64Array) => {
    const s = a[0]! + a[1]!;
    release(a);
    return s;
  };
  const crash = async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.exit(1);
  };
  await Promise.allSettled([ex.submit(quick, 0), ex.submit(sumAndRelease, x), ex.submit(crash)]);
  // Had the caller's segment been given back twice, a new array of its size class would reuse it.
  const y = from(Float64Array, new Float64Array(1 << 17).fill(42));
  assert.equal(x[0], 1);
  assert.equal(await ex.submit((a: Float64Array) => a[5], x), 1);
  release(y);
  release(x);
});

test('without a receipts page (unusable shmDir), a crash mid-batch fails every task it was sent; none hangs', async () => {
  // No shared memory at all: the worker cannot count what it ran, so every task it had is failed.
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, shmDir: '/no/such/shmex/dir' });
  await warm(ex);
  const futures = Array.from({ length: 10 }, (_, i) =>
    i === 5 ? ex.submit(() => process.exit(3)) : ex.submit(quick, i),
  );
  const outcomes = await Promise.allSettled(futures);
  assert.equal(outcomes.length, 10, 'every Future settled');
  const failed = outcomes.filter((o) => o.status === 'rejected');
  assert.ok(failed.length >= 1);
  for (const o of failed) assert.ok((o as PromiseRejectedResult).reason instanceof WorkerCrashedError);
  for (const [i, o] of outcomes.entries()) if (o.status === 'fulfilled') assert.equal(o.value, i);
  assert.equal(await ex.submit(quick, 42), 42, 'the pool goes on');
});
