// What map() holds in shared memory when it is given the chunks of a large
// heap array: each chunk is copied when map takes it from the iterable, at
// most maxWorkers + 1 of its tasks hold such copies at a time, and a worker
// gives a large copied argument back when its task ends. A task that keeps
// its argument past its end keeps it intact.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProcessPoolExecutor, ThreadPoolExecutor } from 'shmex';
import type * as Shm from './fixtures/shm-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const SHM = new URL('./fixtures/shm-tasks.js', import.meta.url);
/** Elements of a chunk: 8 MiB of float64, large enough that a worker gives its copy back at once. */
const CHUNK = 1024 * 1024;
const CHUNK_BYTES = CHUNK * 8;

/** Bytes of the segments in `dir` now (files are reserved whole when made: their size is their space). */
function segmentBytes(dir: string): number {
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('shmex.')) continue;
    try {
      bytes += statSync(join(dir, name)).size;
    } catch {
      // Removed between the listing and the stat.
    }
  }
  return bytes;
}

function chunksOf(x: Float64Array, size: number): Float64Array[] {
  return Array.from({ length: x.length / size }, (_, i) => x.subarray(i * size, (i + 1) * size));
}

for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
  const kind = Executor.name;

  test(`${kind}: a map over the chunks of a large heap array holds at most maxWorkers + 1 copies of chunks in shared memory`, async () => {
    const chunks = 12;
    const x = new Float64Array(chunks * CHUNK);
    for (let i = 0; i < x.length; i++) x[i] = i % 7;
    await using ex = new Executor({ maxWorkers: 2 });
    const shm = ex.module<typeof Shm>(SHM);
    await Promise.all([shm.sum(new Float64Array(1)), shm.sum(new Float64Array(1))]);
    const before = segmentBytes(ex.shmDir);
    let peak = 0;
    const sample = () => {
      peak = Math.max(peak, segmentBytes(ex.shmDir) - before);
    };
    const sampler = setInterval(sample, 1);
    const sums: number[] = [];
    try {
      for await (const s of ex.map(shm.sum, chunksOf(x, CHUNK))) {
        sample();
        sums.push(s);
      }
    } finally {
      clearInterval(sampler);
    }
    sample();
    const expected = chunksOf(x, CHUNK).map((c) => c.reduce((a, b) => a + b, 0));
    assert.deepEqual(sums, expected);
    // A chunk's segment has up to 1/8 of slack (its size class). maxWorkers + 1 = 3 copies are
    // what map holds; copying a whole window of 2 x maxWorkers at once, with the workers keeping
    // their arguments until a later collection, reached 7.
    const bound = 4 * CHUNK_BYTES * 1.125;
    assert.ok(peak > 0, 'the chunks were copied into segments');
    assert.ok(
      peak <= bound,
      `peak ${(peak / 2 ** 20).toFixed(1)} MiB of segments, at most ${(bound / 2 ** 20).toFixed(1)} MiB expected`,
    );
  });

  test(`${kind}: map copies an element when it takes it from the iterable: writes before reach the task, writes after do not`, async () => {
    const chunks = 6;
    const x = new Float64Array(chunks * CHUNK).fill(1);
    await using ex = new Executor({ maxWorkers: 2 });
    const shm = ex.module<typeof Shm>(SHM);
    const taken: number[] = [];
    function* elements(): Generator<Float64Array> {
      for (let i = 0; i < chunks; i++) {
        x.fill(2, i * CHUNK, (i + 1) * CHUNK); // before map takes element i: its task sees it
        yield x.subarray(i * CHUNK, (i + 1) * CHUNK);
        taken.push(i);
        x.fill(3, i * CHUNK, (i + 1) * CHUNK); // after: its task must not see it
      }
    }
    const sums = await ex.map(shm.sum, elements()).toArray();
    assert.deepEqual(sums, new Array(chunks).fill(2 * CHUNK));
    assert.deepEqual(taken, [0, 1, 2, 3, 4, 5], 'every element was taken, then written');
    assert.ok(x.every((v) => v === 3));
  });

  test(`${kind}: an argument a task keeps (in a variable, or as its result) stays intact while later copies are made`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const shm = ex.module<typeof Shm>(SHM);
    assert.equal(await shm.keepArgument(new Float64Array(CHUNK).fill(1)), 1);
    const returned = await shm.overwriteAndReturn(new Float64Array(CHUNK).fill(0), 7);
    const later = new Float64Array(6 * CHUNK).fill(5);
    const sums = await ex.map(shm.sum, chunksOf(later, CHUNK)).toArray();
    assert.deepEqual(sums, new Array(6).fill(5 * CHUNK));
    assert.equal(await shm.keptArgumentSum(), CHUNK, 'the kept argument still holds its ones');
    assert.ok(
      returned.every((v) => v === 7),
      'the returned argument still holds its sevens',
    );
  });
}
