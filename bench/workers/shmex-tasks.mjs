// shmex-only task: addOne whose output array is allocated in shared memory
// with shmex's empty(), so the worker hands its segment back without a copy.
// The loop is the same as addOne in tasks.mjs; only the allocation differs.
import { empty } from 'shmex';

export function addOneShmOut(x) {
  const y = empty(Float64Array, x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] + 1;
  return y;
}
