// A stored array damaged in Redis before a machine reads it: a chunk
// deleted, a chunk corrupted, the index deleted. The task fails with a clear
// BlobError naming the key; nothing is left behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as ClusterTasks from './fixtures/cluster-tasks.js';
import { leftoverKeys, settleCounts } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { command, keys } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/cluster-tasks.js', import.meta.url);
const N = 1_200_000; // 9.6 MB of float64: two chunks of 8 MiB

const local = useLocalCluster({ machines: 1, maxWorkers: 1 });
const { skip } = local;

const damages: [string, (meta: string, chunks: string[]) => (string | Buffer)[], RegExp][] = [
  ['a chunk deleted', (_meta, chunks) => ['DEL', chunks[1]!], /chunk 1 of a stored array is missing/],
  [
    'a chunk corrupted',
    (_meta, chunks) => ['SETRANGE', chunks[0]!, '4096', 'garbage'],
    /chunk 0 .* corrupted \(checksum/,
  ],
  ['a chunk truncated', (_meta, chunks) => ['SET', chunks[1]!, 'short'], /chunk 1 .* corrupted/],
  ['its index deleted', (meta) => ['DEL', meta], /an array is missing from Redis/],
];

for (const [what, damage, message] of damages) {
  test(`a stored array with ${what}: the task fails with a BlobError`, { skip }, async () => {
    await using ex = local.cluster.executor();
    const x = new Float64Array(N).fill(0.5);
    const ref = await ex.put(x);
    const stored = await keys(local.redis.port, `${ex.keyPrefix}*`);
    const chunks = stored.filter((key) => /:\d+$/.test(key)).sort();
    const meta = stored.find((key) => !/:\d+$/.test(key))!;
    assert.equal(chunks.length, 2, `stored keys: ${stored.join(', ')}`);
    assert.ok(!((await command(local.redis.port, ...damage(meta, chunks))) instanceof Error));
    const tasks = ex.module<typeof ClusterTasks>(TASKS);
    const future = tasks.total(ref);
    const counts = settleCounts([future]);
    await assert.rejects(Promise.resolve(future), (error: Error & { code?: string }) => {
      assert.equal(error.name, 'BlobError');
      assert.equal(error.code, 'ERR_SHMEX_BLOB');
      assert.match(error.message, message);
      assert.ok(error.message.includes(meta), 'the message names the key');
      return true;
    });
    // The same machine still reads an intact array.
    assert.equal(await tasks.total(x), N / 2);
    await ex.free(ref);
    await ex.shutdown();
    assert.deepEqual(counts(), [1]);
    assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
  });
}
