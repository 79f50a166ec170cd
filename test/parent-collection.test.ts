// The parent collects garbage to give back the segments of results that
// callers dropped without release(), and it counts for that only results
// still alive: results the caller released (or that V8 collected on its own)
// call for no collection, which would cost the next call two full
// collections of the caller's heap. Forced collections are what the parent's
// rule makes (gc() with the forced flag); this process makes none otherwise.
// The loops that drop results get them in an object: V8's deserializer keeps
// those arrays until it is itself collected, so V8's own collections seldom
// free them first, and the rule's are what gives them back. A result that is
// an array alone is freed by any one collection (the last test).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { empty, inSharedMemory, ProcessPoolExecutor, release } from 'shmex';
import { collectGarbage } from '../dist/shm/collect.js';
import type * as Shm from './fixtures/shm-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
const N = 2 * (1 << 20); // 16 MiB of Float64: four results are the parent's rule of 64 MiB
const ROUNDS = 12;

/** Forced major collections made in this process from now on, once their entries are in. */
function forcedCollections(): { count(): Promise<number> } {
  let forced = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as unknown as { detail: { kind: number; flags: number } }).detail;
      if (
        detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR &&
        detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED
      )
        forced++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    async count() {
      // Entries are delivered on a later turn.
      await new Promise((resolve) => setTimeout(resolve, 100));
      observer.disconnect();
      return forced;
    },
  };
}

test(`${ROUNDS} results of 16 MiB that the caller releases: the parent makes no collection for them; dropped, it does`, async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const x = new Float64Array(N).fill(1);
  await shm.scaleHeap(x, 0).then(release); // the worker started, its task module loaded

  const released = forcedCollections();
  for (let round = 1; round <= ROUNDS; round++) {
    const y = await shm.scaleHeap(x, round);
    assert.ok(inSharedMemory(y));
    assert.equal(y[N - 1], round);
    assert.ok(release(y));
  }
  assert.equal(await released.count(), 0);

  // The same loop, its results dropped: the parent's rule collects for them.
  const dropped = forcedCollections();
  for (let round = 1; round <= ROUNDS; round++)
    assert.equal((await shm.scaleHeapBoxed(x, round)).y[N - 1], round);
  assert.ok((await dropped.count()) >= 1);
});

test('a large result released as the parent decides to collect leaves the rule whole for the results dropped after it', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  // 64 MiB: at once past the rule; released in the continuation, before the collection it called
  // for has run.
  const big = await shm.scaleHeap(new Float64Array(4 * N).fill(1), 1);
  assert.ok(release(big));
  const x = new Float64Array(N).fill(1);
  const dropped = forcedCollections();
  for (let round = 1; round <= ROUNDS; round++)
    assert.equal((await shm.scaleHeapBoxed(x, round)).y[N - 1], round);
  assert.ok((await dropped.count()) >= 1);
});

/** V8's gc(), for this test alone. */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

test('a dropped result that is an array alone, or a list of arrays, is freed by one collection; one in an object by two', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const x = new Float64Array(N).fill(1);
  const gc = exposedGc();
  const freed = new Set<string>();
  const registry = new FinalizationRegistry<string>((kind) => freed.add(kind));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50)); // finalizers run on a later turn
  // Each result is received and dropped in a function of its own: nothing here keeps it.
  const receive = async (kind: string, call: () => Promise<object>) => {
    registry.register(await call(), kind);
  };
  const calls: [string, () => Promise<object>][] = [
    ['array', () => shm.scaleHeap(x, 1)],
    ['list', () => ex.submit((a: Float64Array) => [a.map((v) => v + 1), a.length], x)],
    ['object', () => shm.scaleHeapBoxed(x, 1)],
  ];
  const afterOne: string[] = [];
  for (const [kind, call] of calls) {
    await receive(kind, call);
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    await settle();
    if (freed.has(kind)) afterOne.push(kind);
  }
  // The object's deserializer was collected by that one collection, its arrays are by the next.
  assert.deepEqual(afterOne, ['array', 'list']);
  gc();
  await settle();
  assert.deepEqual([...freed].sort(), ['array', 'list', 'object']);
});

test("the library's collection frees, in one call, arrays sent or received in an object, which V8's serializer or deserializer kept", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const shm = ex.module<typeof Shm>(SHM);
  const x = new Float64Array(N).fill(1);
  const freed = new Set<string>();
  const registry = new FinalizationRegistry<string>((kind) => freed.add(kind));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
  const length = (v: { a: Float64Array }) => v.a.length;
  const trials: [string, () => Promise<void>][] = [
    [
      'sent alone',
      async () => {
        const a = empty(Float64Array, N);
        registry.register(a, 'sent alone');
        assert.equal(await ex.submit((v: Float64Array) => v.length, a), N);
      },
    ],
    [
      'sent in an object',
      async () => {
        const a = empty(Float64Array, N);
        registry.register(a, 'sent in an object');
        assert.equal(await ex.submit(length, { a }), N);
      },
    ],
    [
      'received in an object',
      async () => {
        const { y } = await shm.scaleHeapBoxed(x, 1);
        assert.ok(inSharedMemory(y));
        registry.register(y, 'received in an object');
      },
    ],
  ];
  for (const [kind, trial] of trials) {
    await trial();
    await settle();
    collectGarbage();
    await settle();
    assert.ok(freed.has(kind), `${kind}: freed by one collection`);
  }
});

// Last: empty() allocates in the directory of the latest executor made on another directory.
test('results dropped from an executor on a second directory get their collections after a first directory counted many', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shmex-collection-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const x = new Float64Array(N).fill(1);
  {
    await using first = new ProcessPoolExecutor({ maxWorkers: 1 });
    const shm = first.module<typeof Shm>(SHM);
    for (let round = 1; round <= ROUNDS; round++)
      assert.equal((await shm.scaleHeapBoxed(x, round)).y[N - 1], round);
  }
  // The rule is one per process: the second directory's results count from where it stands, not
  // from zero under the mark the first directory's count left.
  await using second = new ProcessPoolExecutor({ maxWorkers: 1, shmDir: dir });
  const shm = second.module<typeof Shm>(SHM);
  await shm.scaleHeap(x, 0).then(release);
  const dropped = forcedCollections();
  for (let round = 1; round <= ROUNDS; round++)
    assert.equal((await shm.scaleHeapBoxed(x, round)).y[N - 1], round);
  assert.ok((await dropped.count()) >= 1);
});
