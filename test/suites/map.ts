// executor.map(): input order, zipping, chunks, lazy reading of (possibly
// infinite, possibly async) inputs, early exit, timeouts and task errors.
import assert from 'node:assert/strict';
import type * as Control from '../fixtures/control-tasks.js';
import { Gates } from '../fixtures/control-tasks.js';
import { suiteTest as test } from './differences.js';
import type { ExecutorClass } from './executor-class.js';
import { CountedNaturals } from './inputs.js';

const CONTROL = new URL('../fixtures/control-tasks.js', import.meta.url);

function* repeat<T>(value: T): Generator<T> {
  for (;;) yield value;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** Registers these tests for `Executor`, each name followed by `label` (' (threads)', or '' for processes). */
export function mapSuite(Executor: ExecutorClass, label: string): void {
  test(`results come in input order even when later items finish first${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 3 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const results = ex.map(control.gate, repeat(gates.dir), ['a', 'b', 'c'], ['A', 'B', 'C']);
    const first = results.next();
    await Promise.all(['a', 'b', 'c'].map((name) => gates.started(name)));
    gates.release('c');
    await gates.finished('c');
    gates.release('b');
    await gates.finished('b');
    gates.release('a');
    assert.deepEqual(await first, { value: 'A', done: false });
    assert.deepEqual(await results.next(), { value: 'B', done: false });
    assert.deepEqual(await results.next(), { value: 'C', done: false });
    assert.deepEqual(await results.next(), { value: undefined, done: true });
    assert.deepEqual(await results.next(), { value: undefined, done: true });
  });

  test(`many items keep their order${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 3 });
    const squares = await collect(ex.map((x: number) => x * x, range(60)));
    assert.deepEqual(
      squares,
      range(60).map((x) => x * x),
    );
    assert.deepEqual(await collect(ex.map((x: number) => x, [])), []);
  });

  test(`several iterables are zipped and stop at the shortest${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    assert.deepEqual(
      await collect(
        ex.map(
          (a: number, b: number, c: number) => a + b + c,
          [1, 2, 3, 4],
          [10, 20, 30],
          new Set([100, 200, 300, 400]),
        ),
      ),
      [111, 222, 333],
    );
    assert.deepEqual(await collect(ex.map((ch: string, i: number) => `${ch}${i}`, 'xyz', repeat(7))), [
      'x7',
      'y7',
      'z7',
    ]);
    assert.deepEqual(await collect(ex.map((a: number, b: number) => a * b, [1, 2, 3], [])), []);
  });

  test(`chunksize > 1 gives the same results in the same order${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const control = ex.module<typeof Control>(CONTROL);
    const expected = range(25).map((x) => 2 * x + 1);
    for (const chunksize of [1, 2, 3, 7, 25, 100]) {
      assert.deepEqual(
        await collect(ex.map((x: number) => 2 * x + 1, range(25), { chunksize })),
        expected,
        `chunksize ${chunksize}`,
      );
    }
    // A module task in chunks.
    assert.deepEqual(
      await collect(ex.map(control.getGlobal, ['NaN', 'Infinity', 'nope'], { chunksize: 2 })),
      [Number.NaN, Number.POSITIVE_INFINITY, undefined],
    );
    // Zipped inputs in chunks.
    assert.deepEqual(
      await collect(ex.map((a: number, b: string) => `${b}${a}`, range(5), 'abcdefg', { chunksize: 2 })),
      ['a0', 'b1', 'c2', 'd3', 'e4'],
    );
  });

  test(`inputs are read lazily: only a bounded window ahead of the results${label}`, async () => {
    const maxWorkers = 2;
    for (const chunksize of [1, 3]) {
      await using ex = new Executor({ maxWorkers });
      const bound = 2 * maxWorkers * chunksize + 2 * chunksize;
      let pulled = 0;
      function* counting(n: number): Generator<number> {
        for (let i = 0; i < n; i++) {
          pulled++;
          yield i;
        }
      }
      const results = ex.map((x: number) => x + 1, counting(200), { chunksize });
      assert.equal(pulled, 0, 'nothing is read before the first result is asked for');
      let consumed = 0;
      for await (const value of results) {
        assert.equal(value, consumed + 1);
        consumed++;
        assert.ok(
          pulled - consumed <= bound,
          `chunksize ${chunksize}: ${pulled} items read after ${consumed} results (bound ${bound} ahead)`,
        );
      }
      assert.equal(consumed, 200);
      assert.equal(pulled, 200);
    }
  });

  test(`breaking out of an infinite map closes the input and runs no more tasks${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const log = gates.path('ran.log');
    const naturals = new CountedNaturals();
    const seen: unknown[] = [];
    for await (const value of ex.map(control.logged, repeat(log), naturals)) {
      seen.push(value);
      if (seen.length === 5) break;
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(naturals.closed, true, 'the input generator was closed');
    const pulledAtBreak = naturals.pulled;
    assert.ok(pulledAtBreak <= 5 + 2 * 2 + 2, `read ${pulledAtBreak} items for 5 results`);
    await ex.shutdown(); // every task that was going to run has run now
    assert.equal(naturals.pulled, pulledAtBreak);
    const ran = gates.log('ran.log') as number[];
    assert.ok(ran.length <= pulledAtBreak, `ran ${ran.length} tasks but read only ${pulledAtBreak} items`);
    for (const value of [0, 1, 2, 3, 4]) assert.ok(ran.includes(value));
    for (const value of ran) assert.ok(value < pulledAtBreak);
  });

  test(`async iterables work as inputs, alone or zipped with sync ones${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    async function* asyncRange(n: number): AsyncGenerator<number> {
      for (let i = 0; i < n; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        yield i;
      }
    }
    assert.deepEqual(
      await collect(ex.map((x: number) => x * 3, asyncRange(10))),
      range(10).map((x) => x * 3),
    );
    assert.deepEqual(
      await collect(ex.map((a: number, b: string) => `${b}:${a}`, asyncRange(10), ['p', 'q', 'r'])),
      ['p:0', 'q:1', 'r:2'],
    );
    const custom: AsyncIterable<number> = {
      [Symbol.asyncIterator]() {
        let i = 0;
        return { next: async () => (i < 4 ? { value: i++, done: false } : { value: undefined, done: true }) };
      },
    };
    assert.deepEqual(await collect(ex.map((x: number) => -x, custom, { chunksize: 3 })), [-0, -1, -2, -3]);
  });

  test(`map timeout rejects with ERR_SHMEX_TIMEOUT and ends the iteration${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const results = ex.map(control.gate, repeat(gates.dir), ['t0', 't1'], [0, 1], { timeout: 100 });
    await assert.rejects(results.next(), { name: 'TimeoutError', code: 'ERR_SHMEX_TIMEOUT' });
    assert.deepEqual(await results.next(), { value: undefined, done: true });
    gates.release('t0', 't1');
    // A generous timeout does not get in the way of results that arrive.
    assert.deepEqual(await collect(ex.map((x: number) => x, range(8), { timeout: 60_000 })), range(8));
  });

  test(`a map that times out cancels its queued tasks, including the one it was waiting for${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const log = gates.path('ran.log');
    const busy = control.gate(gates.dir, 'busy', 'busy');
    await gates.started('busy');
    const results = ex.map(control.logged, repeat(log), ['m0', 'm1', 'm2'], { timeout: 50 });
    await assert.rejects(results.next(), { code: 'ERR_SHMEX_TIMEOUT' });
    gates.release('busy');
    assert.equal(await busy, 'busy');
    await ex.shutdown();
    assert.deepEqual(gates.log('ran.log'), [], 'no map task ran after the map gave up');
  });

  test(`an error in one item is thrown at its position${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    const seen: number[] = [];
    const failAt3 = (x: number) => {
      if (x === 3) throw new RangeError(`bad item ${x}`);
      return x * 10;
    };
    const results = ex.map(failAt3, range(8));
    await assert.rejects(
      (async () => {
        for await (const value of results) seen.push(value);
      })(),
      { name: 'RangeError', message: 'bad item 3' },
    );
    assert.deepEqual(seen, [0, 10, 20]);
    assert.deepEqual(await results.next(), { value: undefined, done: true });
    // With chunks the error comes at the start of the failing chunk.
    const chunked: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const value of ex.map(failAt3, range(8), { chunksize: 2 })) chunked.push(value);
      })(),
      { message: 'bad item 3' },
    );
    assert.deepEqual(chunked, [0, 10]);
  });

  test(`an input that throws ends the map with that error${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 2 });
    function* broken(): Generator<number> {
      yield 1;
      yield 2;
      throw new Error('input broke');
    }
    await assert.rejects(collect(ex.map((x: number) => x, broken())), { message: 'input broke' });
  });

  test(`map validates its options synchronously${label}`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const id = (x: number) => x;
    assert.throws(() => ex.map(id, [1], { chunksize: 0 }), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
    assert.throws(() => ex.map(id, [1], { chunksize: 1.5 }), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
    assert.throws(() => ex.map(id, [1], { timeout: -1 }), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
    assert.throws(() => (ex.map as any)(id), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
    assert.throws(() => (ex.map as any)(id, 5), { code: 'ERR_SHMEX_INVALID_ARGUMENT' });
  });
}
