// Recycled segments and dying workers: arrays a dead worker returned stay
// readable, inputs a dead worker held come back to the caller's pool, and
// with quick tasks sent several to a worker, a killed worker fails only the
// task it was running while the others run elsewhere.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  from,
  listSegmentNames,
  type ModuleTasks,
  ProcessPoolExecutor,
  release,
  shared,
  trimSharedMemory,
  WorkerCrashedError,
} from 'shmex';
import { MAX_GATHERED } from '../dist/tuning.js';
import type * as Control from './fixtures/control-tasks.js';
import { Gates, reaped, until } from './fixtures/control-tasks.js';
import type * as Shm from './fixtures/shm-tasks.js';
import { ownSegments, segmentsOf } from './helpers/segments.js';
import { guardSharedMemory, segmentsSettled } from './helpers/shm-guard.js';
import { rampShm, sumOf } from './helpers/values.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);
const BIG = 1 << 20;
const rampSum = (n: number) => (n * (n - 1)) / 2;

test('arrays a worker returned stay readable after it is killed; once dropped, no segment is left', async () => {
  const existing = new Set(listSegmentNames());
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const shm = ex.module<typeof Shm>(SHM);
    let big: Float64Array | undefined = await shm.ramp(BIG, 0);
    const small = await shm.ramp(5, 1);
    const heap = await shm.scaleHeap(new Float64Array(BIG).fill(1), 3);
    // Two results that are views of one segment of the worker (it returns the same array twice).
    const twiceA = await shm.keptOnes(BIG);
    const twiceB = await shm.keptOnes(BIG);
    const { pid } = await shm.tagged(null);
    assert.ok(segmentsOf(pid).length >= 4, 'the results live in segments of the worker');

    process.kill(pid, 'SIGKILL');
    await until(() => reaped(pid), 'the parent has reaped the killed worker');
    // The names of segments the caller still holds arrays in are kept (adopted by the parent) until they are dropped.
    assert.ok(
      segmentsOf(pid).length <= 4,
      'the parent removed the names of the dead worker it holds nothing in',
    );

    assert.equal(sumOf(big), rampSum(BIG));
    assert.equal(big[BIG - 1], BIG - 1);
    assert.deepEqual([...small], [1, 2, 3, 4, 5]);
    assert.equal(sumOf(heap), 3 * BIG);
    assert.equal(sumOf(twiceB), BIG);
    // Still writable, as the caller's own arrays.
    big[0] = -7;
    small[4] = 50;
    assert.equal(big[0], -7);
    assert.equal(small[4], 50);
    // Releasing one view of a segment leaves the other readable.
    assert.equal(release(twiceA), true);
    assert.equal(twiceB[BIG - 1], 1);
    assert.equal(sumOf(twiceB), BIG);
    assert.equal(release(twiceB), true);
    assert.equal(twiceB.length, 0);
    // A new worker runs new tasks.
    const { pid: next } = await shm.tagged(null);
    assert.notEqual(next, pid);
    assert.equal(await shm.sum(new Float64Array(BIG).fill(1)), BIG);
    big = undefined; // dropped: collected by segmentsSettled() below
    assert.equal(heap.length, BIG);
    // Still referenced from this async function's frame: released, their (adopted) names go at once.
    release(small);
    release(heap);
  }
  assert.deepEqual(await segmentsSettled(existing), []);
});

test('a worker killed while it holds a zero-copy input: the caller array is intact and its segment comes back', async () => {
  const existing = new Set(listSegmentNames());
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const shm = ex.module<typeof Shm>(SHM);
  trimSharedMemory();
  const earlier = new Set(ownSegments());
  const byValue = rampShm(BIG);
  const small = from(Float64Array, [1, 2, 3]);
  const byReference = rampShm(BIG);
  const mine = new Set(ownSegments().filter((name) => !earlier.has(name)));
  assert.equal(mine.size, 3, 'three arrays, three segments of this process');

  // Each task writes into its inputs and then blocks; both workers are then killed.
  const a = shm.overwriteThenGate(byValue, 9, gates.dir, 'value');
  const b = shm.overwriteThenGate(shared(byReference), 9, gates.dir, 'reference');
  const c = shm.overwriteThenGate(small, 9, gates.dir, 'small');
  const pids = await Promise.all([gates.started('value'), gates.started('reference')]);
  for (const pid of new Set(pids)) process.kill(pid, 'SIGKILL');
  for (const f of [a, b]) {
    await assert.rejects(f, (error: unknown) => {
      assert.ok(error instanceof WorkerCrashedError);
      assert.equal((error as WorkerCrashedError).signal, 'SIGKILL');
      return true;
    });
  }
  // The third task was queued behind one of them, and runs on a new worker.
  await gates.started('small');
  gates.release('small');
  assert.deepEqual(await c, [9, 9]);

  assert.equal(sumOf(byValue), rampSum(BIG), 'copy-on-write: the dead task wrote only its own copy');
  assert.deepEqual([...small], [1, 2, 3]);
  assert.equal(byReference[0], 9, 'by reference: what the task wrote before it died is there');
  assert.equal(byReference[BIG - 1], 9);

  // Every hold the dead workers had is given back: released, the segments are idle and trim removes them.
  for (const pid of new Set(pids)) await until(() => reaped(pid), 'the killed workers are reaped');
  for (const x of [byValue, small, byReference]) assert.equal(release(x), true);
  const trimmed = await trimUntil(mine);
  assert.deepEqual(trimmed.sort(), [...mine].sort());
  assert.deepEqual(
    ownSegments().filter((name) => mine.has(name)),
    [],
  );
  assert.deepEqual(await segmentsSettled(existing), []);
});

/**
 * Trims until every name in `names` has been trimmed: the task that ran on a
 * replacement worker frees its hold on `small` once that worker collects
 * garbage, a moment after its result.
 */
async function trimUntil(names: Set<string>): Promise<string[]> {
  const trimmed: string[] = [];
  await until(() => {
    trimmed.push(...trimSharedMemory().filter((name) => names.has(name)));
    return trimmed.length === names.size;
  }, 'the segments of the inputs are idle again');
  return trimmed;
}

test('200 quick tasks and a worker killed mid-stream: only its running task fails, every other one completes', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  using gates = new Gates();
  const shm = ex.module<typeof Shm>(SHM);
  const control = ex.module<typeof Control>(CONTROL);
  // Both workers up (two gates running at once), then warm: quick tasks make the pool send several
  // tasks to a worker per message.
  const up = [control.gate(gates.dir, 'up1', 1), control.gate(gates.dir, 'up2', 2)];
  const upPids = await Promise.all([gates.started('up1'), gates.started('up2')]);
  assert.notEqual(upPids[0], upPids[1]);
  gates.release('up1', 'up2');
  assert.deepEqual(await Promise.all(up), [1, 2]);
  await Promise.all(Array.from({ length: 100 }, (_, i) => shm.tagged(i)));

  // The first two tasks block one worker each; everything else is queued behind them, some in each worker.
  const victim = control.gate(gates.dir, 'victim', -1);
  const survivor = control.gate(gates.dir, 'survivor', -2);
  const quick = Array.from({ length: 200 }, (_, i) => shm.tagged(i));
  const victimPid = await gates.started('victim');
  const survivorPid = await gates.started('survivor');
  assert.notEqual(victimPid, survivorPid);
  process.kill(victimPid, 'SIGKILL');
  await assert.rejects(victim, { code: 'ERR_SHMEX_WORKER_CRASHED', signal: 'SIGKILL', pid: victimPid });
  gates.release('survivor');

  const settled = await Promise.allSettled([survivor, ...quick]);
  assert.deepEqual(settled[0], { status: 'fulfilled', value: -2 });
  const values = settled.slice(1).map((s, i) => {
    assert.equal(s.status, 'fulfilled', `task ${i}: ${s.status === 'rejected' ? String(s.reason) : ''}`);
    return (s as PromiseFulfilledResult<{ pid: number; value: number }>).value;
  });
  assert.deepEqual(
    values.map((v) => v.value),
    Array.from({ length: 200 }, (_, i) => i),
  );
  assert.ok(!values.some((v) => v.pid === victimPid), 'no task ran on the killed worker after the gate');
});

test('200 quick tasks, the worker that ran the first one killed at once: only the tasks in its hands fail', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  const shm = ex.module<typeof Shm>(SHM);
  await Promise.all(Array.from({ length: 100 }, (_, i) => shm.tagged(i)));
  const futures = Array.from({ length: 200 }, (_, i) => shm.tagged(i));
  const first = await futures[0]!;
  process.kill(first.pid, 'SIGKILL');
  const settled = await Promise.allSettled(futures);
  const failed = settled.flatMap((s, i) =>
    s.status === 'rejected' ? [{ i, reason: s.reason as unknown }] : [],
  );
  // Its running task, and the tasks it had finished whose outcomes it was gathering into one
  // message (at most MAX_GATHERED) when it was killed: none runs twice (docs/failures.md). The
  // tasks it had been sent but not started run on the other worker.
  const list = failed.map((f) => `${f.i}: ${String(f.reason)}`).join('; ');
  assert.ok(failed.length <= MAX_GATHERED + 1, `failed: ${list}`);
  const running = failed.filter(({ reason }) => /running this task/.test(String(reason)));
  assert.ok(running.length <= 1, `failed: ${list}`);
  for (const { reason } of failed) {
    assert.ok(reason instanceof WorkerCrashedError);
    assert.equal((reason as WorkerCrashedError).pid, first.pid);
    assert.match(reason.message, /running this task|after it finished this task, before its result was sent/);
  }
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') assert.equal(s.value.value, i);
  });
});

test('maxTasksPerChild: 3 with 30 quick tasks: all complete, in at least 10 worker processes', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2, maxTasksPerChild: 3 });
  const shm = ex.module<typeof Shm>(SHM);
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => shm.tagged(i)));
  assert.deepEqual(
    results.map((r) => r.value),
    Array.from({ length: 30 }, (_, i) => i),
  );
  const perPid = new Map<number, number>();
  for (const r of results) perPid.set(r.pid, (perPid.get(r.pid) ?? 0) + 1);
  assert.ok(perPid.size >= 10, `${perPid.size} workers`);
  assert.ok(
    [...perPid.values()].every((n) => n <= 3),
    'no worker ran more than 3 tasks',
  );
  // With arrays in shared memory too: inputs come back, and retired workers' segments go.
  const existing = new Set(listSegmentNames());
  {
    await using big = new ProcessPoolExecutor({ maxWorkers: 2, maxTasksPerChild: 3 });
    const shmBig = big.module<typeof Shm>(SHM);
    const inputs = Array.from({ length: 9 }, (_, i) => from(Float64Array, [i, BIG]));
    const sums = await Promise.all(inputs.map((x) => shmBig.sum(x)));
    assert.deepEqual(
      sums,
      Array.from({ length: 9 }, (_, i) => i + BIG),
    );
    const ramps = await Promise.all(Array.from({ length: 6 }, () => shmBig.ramp(BIG, 1)));
    for (const r of ramps) assert.equal(r[BIG - 1], BIG);
    for (const x of [...inputs, ...ramps]) assert.equal(release(x), true);
  }
  assert.deepEqual(await segmentsSettled(existing), []);
});

test('an array returned by a worker that has exited since can still be passed to a task', async () => {
  const check = async (shm: ModuleTasks<typeof Shm>, results: Float64Array[]) => {
    for (const r of results) {
      const before = sumOf(r);
      assert.equal(await shm.sum(r), before);
      await shm.addInPlace(shared(r), 1);
      assert.equal(sumOf(r), before + r.length);
    }
  };
  const made = async (shm: ModuleTasks<typeof Shm>) => [
    await shm.ramp(BIG, 0),
    await shm.ramp(4, 0),
    await shm.scaleHeap(new Float64Array(BIG), 1),
  ];
  // Killed.
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const shm = ex.module<typeof Shm>(SHM);
    const results = await made(shm);
    const { pid } = await shm.tagged(null);
    process.kill(pid, 'SIGKILL');
    await until(() => reaped(pid), 'the parent has reaped the killed worker');
    await check(shm, results);
  }
  // Retired.
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, maxTasksPerChild: 1 });
    const shm = ex.module<typeof Shm>(SHM);
    await check(shm, await made(shm));
  }
  // Its executor shut down.
  let results: Float64Array[];
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    results = await made(ex.module<typeof Shm>(SHM));
  }
  await using next = new ProcessPoolExecutor({ maxWorkers: 1 });
  await check(next.module<typeof Shm>(SHM), results);
});

test('a task queued with a result array keeps it usable when the worker that made it dies, released or not, even if another process sweeps', async () => {
  for (const when of ['released after the kill', 'released before the kill', 'kept, with a sweep'] as const) {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    using gates = new Gates();
    const shm = ex.module<typeof Shm>(SHM);
    const control = ex.module<typeof Control>(CONTROL);
    const y = await shm.ramp(BIG, 0); // in a segment of the worker
    const blocker = control.gate(gates.dir, 'blocker', 'never');
    const pid = await gates.started('blocker');
    const queued = shm.sum(y); // encoded now with the worker's segment name, waits behind the blocker
    if (when === 'released before the kill') release(y);
    process.kill(pid, 'SIGKILL');
    assert.ok((await blocker.catch((e: unknown) => e)) instanceof WorkerCrashedError);
    if (when === 'released after the kill') release(y);
    if (when === 'kept, with a sweep') {
      // What any other shmex process does when it starts: remove segments of dead owners.
      const sweep = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', "import { shmClear } from 'shmex'; shmClear();"],
        {
          encoding: 'utf8',
          cwd: fileURLToPath(new URL('../', import.meta.url)),
        },
      );
      assert.equal(sweep.status, 0, sweep.stderr);
    }
    assert.equal(await queued, rampSum(BIG), when);
  }
});
