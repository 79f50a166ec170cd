// executor.map(...).toArray(): every result in input order (Node 20 has no
// Array.fromAsync); on a failure it rejects with that error and closes the map
// as return() does: inputs closed, queued tasks cancelled.
import assert from 'node:assert/strict';
import { suiteTest as test } from './differences.js';
import type { ExecutorClass } from './executor-class.js';
import { CountedNaturals } from './inputs.js';

/** Registers these tests for `Executor`, each name followed by `label` (' (threads)', or '' for processes). */
export function mapToArraySuite(Executor: ExecutorClass, label: string): void {
  test(`toArray collects every result in input order${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const xs = Array.from({ length: 50 }, (_, i) => i);
    assert.deepEqual(
      await ex.map((x: number) => x * 2, xs).toArray(),
      xs.map((x) => x * 2),
    );
    assert.deepEqual(
      await ex.map((x: number) => x * 2, xs, { chunksize: 7 }).toArray(),
      xs.map((x) => x * 2),
    );
    async function* letters() {
      yield* ['a', 'b', 'c'];
    }
    assert.deepEqual(await ex.map((s: string, n: number) => s.repeat(n), letters(), [1, 2, 3, 4]).toArray(), [
      'a',
      'bb',
      'ccc',
    ]);
    assert.deepEqual(await ex.map((x: number) => x, []).toArray(), []);
    const withOptions = ex.withOptions({ timeout: 60_000 }).map((x: number) => -x, [1, 2]);
    assert.deepEqual(await withOptions.toArray(), [-1, -2]);
  });

  test(`toArray after next() collects the rest; the map is then done${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const results = ex.map((x: number) => x + 1, [1, 2, 3, 4]);
    assert.deepEqual(await results.next(), { value: 2, done: false });
    assert.deepEqual(await results.toArray(), [3, 4, 5]);
    assert.deepEqual(await results.next(), { value: undefined, done: true });
    assert.deepEqual(await results.toArray(), []);
  });

  test(`toArray rejects with the first error and closes the map as return() does${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const naturals = new CountedNaturals();
    const failAt3 = (x: number) => {
      if (x === 3) throw new RangeError(`bad item ${x}`);
      return x;
    };
    const results = ex.map(failAt3, naturals);
    await assert.rejects(results.toArray(), { name: 'RangeError', message: 'bad item 3' });
    assert.equal(naturals.closed, true, 'the (infinite) input was closed');
    const pulledAtError = naturals.pulled;
    assert.ok(pulledAtError <= 4 + 2 * 2, `read ${pulledAtError} items: a bounded window past the error`);
    assert.deepEqual(await results.next(), { value: undefined, done: true });
    await ex.shutdown(); // every task that was going to run has run now
    assert.equal(naturals.pulled, pulledAtError, 'nothing more was read');
    // Each item read became one task, and each ended: the one that failed, and the rest ran or were cancelled.
    const { completedTasks, failedTasks, cancelledTasks } = ex.stats();
    assert.equal(failedTasks, 1);
    assert.equal(completedTasks + failedTasks + cancelledTasks, pulledAtError);
  });
}
