// shmex-only tasks. addOneShmOut: addOne whose output array is allocated in
// shared memory with shmex's empty(), so the worker hands its segment back
// without a copy (the loop is the same as addOne in tasks.mjs; only the
// allocation differs). resultSubarray / resultSlice: a small view of, or a
// copy from, a big array the worker made once (the result-view case).
import { empty } from 'shmex';

export function addOneShmOut(x) {
  const y = empty(Float64Array, x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] + 1;
  return y;
}

let big;

/** The worker's big array of `n` elements, x[i] = (i % 1000) / 2, made on the first call. */
function bigArray(n) {
  if (big === undefined || big.length !== n) {
    big = new Float64Array(n);
    for (let i = 0; i < n; i++) big[i] = (i % 1000) / 2;
  }
  return big;
}

/** Elements [k, k + 10) of the worker's big array of n, as a subarray (a view of it). */
export function resultSubarray(n, k) {
  return bigArray(n).subarray(k, k + 10);
}

/** Elements [k, k + 10) of the worker's big array of n, as a copy (slice). */
export function resultSlice(n, k) {
  return bigArray(n).slice(k, k + 10);
}
