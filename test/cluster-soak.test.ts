// The soak's cluster form: a few hundred tasks of random sizes (inline and
// blob arrays, a put() value shared by many) on two machines, while pool
// processes are killed at random, a whole machine is killed and replaced,
// and tasks are aborted or cancelled. Every Future settles exactly once,
// with the right value or an error this soak caused; nothing is left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Future } from 'shmex';
import type * as ClusterTasks from './fixtures/cluster-tasks.js';
import { leftoverKeys, settleCounts } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { ageMs, alive, descendants } from './helpers/processes.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/cluster-tasks.js', import.meta.url);
const COUNT = 120;
const WAVE = 20;
/** Errors this soak causes: a killed pool process, an abort, a cancel. */
const CAUSED = new Set(['ERR_SHMEX_WORKER_CRASHED', 'ERR_SHMEX_ABORTED', 'ERR_SHMEX_CANCELLED']);

const local = useLocalCluster({ machines: 2, maxWorkers: 1, lockDuration: 1000 });
const { skip } = local;

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The pool processes of a machine past their start (three killed while starting in a row break a
 * pool by design); on a loaded machine the replacement of the last one killed may still be
 * starting, so this waits for one, up to 5 s.
 */
async function startedPoolProcesses(machinePid: number): Promise<number[]> {
  for (let tries = 0; tries < 100; tries++) {
    const started = descendants(machinePid).filter((pid) => ageMs(pid) > 600);
    if (started.length > 0 || !alive(machinePid)) return started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return [];
}

test(`cluster soak: ${COUNT} tasks with pool processes and a machine killed, aborts and cancels`, {
  skip,
}, async (t) => {
  const tStart = performance.now();
  const rand = random(13);
  await using ex = local.cluster.executor({ maxRetries: 3 });
  const stored = new Float64Array(50_000).fill(2);
  const ref = await ex.put(stored);
  const futures: Future<unknown>[] = [];
  const expected: ((value: unknown) => boolean)[] = [];
  let replacement: Promise<unknown> | undefined;
  let kills = 0;
  for (let i = 0; i < COUNT; i++) {
    const pick = rand();
    const length = rand() < 0.5 ? 1 + Math.floor(rand() * 1000) : 20_000 + Math.floor(rand() * 100_000);
    const fill = i % 7;
    const controller = new AbortController();
    const runner = pick < 0.08 ? ex.withOptions({ signal: controller.signal }) : ex;
    const own = runner.module<typeof ClusterTasks>(TASKS);
    if (pick < 0.45) {
      futures.push(own.total(new Float64Array(length).fill(fill)));
      expected.push((v) => v === length * fill);
    } else if (pick < 0.8) {
      futures.push(own.filled(length, fill));
      expected.push(
        (v) => v instanceof Float64Array && v.length === length && v[0] === fill && v[length - 1] === fill,
      );
    } else {
      futures.push(own.total(ref));
      expected.push((v) => v === 100_000);
    }
    if (pick < 0.04) controller.abort(new Error('soak abort'));
    else if (pick < 0.08) setTimeout(() => controller.abort(new Error('soak abort')), rand() * 50);
    else if (pick > 0.97) futures.at(-1)!.cancel();
    if (i % WAVE === WAVE - 1) {
      // Let the wave start, then kill something under it.
      await Promise.race([Promise.allSettled(futures.slice(-WAVE)), new Promise((r) => setTimeout(r, 150))]);
      const machines = local.cluster.machines.filter((m) => alive(m.pid));
      const machine = machines[Math.floor(rand() * machines.length)]!;
      if (replacement === undefined && i >= COUNT / 2) {
        local.track(machine.pid, ...descendants(machine.pid));
        process.kill(machine.pid, 'SIGKILL');
        replacement = local.cluster.addMachine();
      } else {
        // Only a pool process past its start: three killed while starting in a row break a pool by design.
        const children = await startedPoolProcesses(machine.pid);
        local.track(...children);
        if (children.length > 0) {
          process.kill(children[Math.floor(rand() * children.length)]!, 'SIGKILL');
          kills++;
        }
      }
    }
  }
  await replacement;
  const t0 = performance.now();
  const counts = settleCounts(futures);
  const outcomes = await Promise.allSettled(futures.map((f) => f.result(60_000)));
  let ok = 0;
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === 'fulfilled') {
      assert.ok(expected[i]!(outcome.value), `task ${i} returned a wrong value`);
      ok++;
    } else {
      const error = outcome.reason as Error & { code?: string };
      assert.ok(CAUSED.has(error.code ?? ''), `task ${i} failed for no reason of the soak: ${error.stack}`);
    }
  }
  const t1 = performance.now();
  t.diagnostic(
    `${ok} of ${COUNT} succeeded, ${kills} pool processes killed; submitted in ${(t0 - tStart).toFixed(0)} ms, settled after ${(t1 - t0).toFixed(0)} ms more`,
  );
  assert.ok(ok >= COUNT / 2, `only ${ok} of ${COUNT} tasks succeeded`);
  assert.ok(replacement !== undefined, 'no machine was killed');
  assert.ok(kills > 0, 'no pool process was killed');
  await ex.free(ref);
  await ex.shutdown();
  assert.deepEqual(
    counts(),
    futures.map(() => 1),
  );
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});
