// The parent writes each 'run' frame to a worker's pipe at once while
// nothing is queued, and leaves to the socket what a full pipe did not take:
// arguments of tasks whose frames fill the pipe (64 KiB) many times over
// must arrive whole, each task's with its own bytes, in the order sent.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ProcessPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

// 1 MiB: every argument below travels inline, in the frames themselves.
const ex = new ProcessPoolExecutor({ maxWorkers: 2, threshold: 1024 * 1024 });
after(() => ex.shutdown());

/** Task i's argument: (i * 7919) % 120001 + 1 elements, element k worth i * 3 + k. */
function argument(i: number): Float64Array {
  const n = ((i * 7919) % 120001) + 1;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = i * 3 + k;
  return out;
}

const check = (x: Float64Array, i: number): boolean => {
  for (let k = 0; k < x.length; k++) if (x[k] !== i * 3 + k) return false;
  return true;
};

test('inline arguments of tasks submitted at once, frames far larger than the pipe, arrive whole', async () => {
  const count = 200;
  const seen = await Promise.all(Array.from({ length: count }, (_, i) => ex.submit(check, argument(i), i)));
  assert.deepEqual(
    seen.map((ok, i) => (ok ? -1 : i)).filter((i) => i >= 0),
    [],
    'tasks whose argument arrived changed',
  );
});

test('tiny tasks submitted between large ones, one at a time and at once, each see their own argument', async () => {
  const order: number[] = [];
  const futures = [];
  for (let i = 0; i < 300; i++) {
    const x = i % 10 === 0 ? argument(i) : Float64Array.of(i * 3, i * 3 + 1);
    futures.push(ex.submit(check, x, i).then((ok) => (ok ? order.push(i) : assert.fail(`task ${i}`))));
    if (i % 50 === 0) await futures.at(-1);
  }
  await Promise.all(futures);
  assert.equal(order.length, 300);
});
