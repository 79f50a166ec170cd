// The parent reads each worker's results into one buffer that it reads into
// again: results of many tiny tasks whose frames straddle its reads, and
// inline result arrays the caller keeps while many later results are read,
// must arrive whole and stay as they arrived.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ProcessPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

// 1 MiB: every result below travels inline, in the results frames themselves.
const ex = new ProcessPoolExecutor({ maxWorkers: 2, threshold: 1024 * 1024 });
after(() => ex.shutdown());

/** Task i's result: (i * 37) % 3001 + 1 elements, each i + its index / 2 (its length sets where frames end). */
function expected(i: number): Float64Array {
  const n = ((i * 37) % 3001) + 1;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = i + k / 2;
  return out;
}

function intact(i: number, got: unknown): boolean {
  if (!(got instanceof Float64Array)) return false;
  const want = expected(i);
  if (got.length !== want.length) return false;
  for (let k = 0; k < want.length; k++) if (got[k] !== want[k]) return false;
  return true;
}

const make = (i: number): Float64Array => {
  const n = ((i * 37) % 3001) + 1;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = i + k / 2;
  return out;
};

test('results of many tiny tasks submitted at once arrive whole, and stay whole while later ones are read', async () => {
  const count = 3000;
  const futures = Array.from({ length: count }, (_, i) => ex.submit(make, i));
  const kept: Float64Array[] = [];
  for (let i = 0; i < count; i++) {
    const got = await futures[i]!;
    assert.ok(intact(i, got), `task ${i}'s result as it arrived`);
    kept.push(got);
  }
  // Some 35 MB of results were read through the same buffer since the first of them arrived.
  for (let i = 0; i < count; i++) assert.ok(intact(i, kept[i]), `task ${i}'s result, kept`);
});

test('tiny results awaited one at a time, then kept across many later results, stay whole', async () => {
  const kept: unknown[] = [];
  for (let i = 0; i < 300; i++) kept.push(await ex.submit(make, i));
  for (let round = 0; round < 3; round++)
    await Promise.all(Array.from({ length: 500 }, (_, i) => ex.submit(make, i)));
  for (let i = 0; i < kept.length; i++) assert.ok(intact(i, kept[i]), `task ${i}'s result, kept`);
});

test('a result larger than the reader buffer, between small ones, arrives whole', async () => {
  const big = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let k = 0; k < n; k++) out[k] = (k * 7) & 255;
    return out;
  };
  const sizes = [10, 900 * 1024, 10, 300 * 1024, 3, 1000 * 1024, 1];
  const results = await Promise.all(sizes.map((n) => ex.submit(big, n)));
  const kept = results.map((r, i) => {
    assert.ok(r instanceof Uint8Array);
    assert.equal(r.length, sizes[i]);
    return r;
  });
  await Promise.all(Array.from({ length: 200 }, (_, i) => ex.submit(make, i)));
  for (const r of kept) for (let k = 0; k < r.length; k += 997) assert.equal(r[k], (k * 7) & 255);
});
