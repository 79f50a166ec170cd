// Small helpers several test files share.
import assert from 'node:assert/strict';
import { empty } from 'shmex';

/** The error a promise (or Future) rejects with; fails the test if it fulfils. */
export async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

/** 0, 1, ..., n - 1 in shared memory. Self-contained (`empty` is in a function task's scope): usable as a task. */
export function rampShm(n: number): Float64Array {
  const x = empty(Float64Array, n);
  for (let i = 0; i < n; i++) x[i] = i;
  return x;
}

/** The sum of the elements, in order. Self-contained: usable as a task. */
export function sumOf(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
}
