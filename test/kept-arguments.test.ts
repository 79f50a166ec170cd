// A worker process reads its tasks into one buffer that it reads into again:
// the inline arguments a task keeps must stay its own, and module tasks,
// named by a number after their first run on a worker, must run the export
// they name.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ProcessPoolExecutor } from 'shmex';
import type * as Kept from './fixtures/kept-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const ex = new ProcessPoolExecutor({ maxWorkers: 1 });
after(() => ex.shutdown());
const tasks = ex.module<typeof Kept>(new URL('./fixtures/kept-tasks.js', import.meta.url));

test('inline arguments a task keeps stay as they came, over many reads of the pipe', async () => {
  // 8 kB and 60 kB arrays (below the threshold: inline), in bursts larger than a pipe holds.
  const sizes = [1000, 7500];
  let expected = 0;
  for (let round = 0; round < 3; round++) {
    const sums = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const k = round * 1000 + i;
        const n = sizes[i % 2]!;
        expected++;
        return tasks.keep(new Float64Array(n).fill(k), k).then((sum) => sum === n * k);
      }),
    );
    assert.ok(sums.every(Boolean), 'every task summed its own argument');
  }
  assert.deepEqual(await tasks.intact(), { count: expected, intact: expected, own: expected });
});

test('module tasks and function tasks, interleaved, each run what they name', async () => {
  const f = (a: number, b: number) => a - b;
  const calls = Array.from({ length: 300 }, (_, i) => {
    const which = i % 3;
    if (which === 0) return tasks.plus(i, 2).then((r) => r === i + 2);
    if (which === 1) return tasks.times(i, 2).then((r) => r === i * 2);
    return ex.submit(f, i, 2).then((r) => r === i - 2);
  });
  const ok = await Promise.all(calls);
  assert.equal(ok.filter(Boolean).length, 300);
  // The same export through { module, name } is the same task.
  const url = new URL('./fixtures/kept-tasks.js', import.meta.url);
  assert.equal(await ex.submit({ module: url, name: 'times' }, 3, 4), 12);
});
