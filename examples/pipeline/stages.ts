// Stages of the pipeline example. Each stage writes its output into an array
// made with empty(): it lives in shared memory, so it goes back to the parent
// and on to the next stage without being copied.
import { empty } from 'shmex';

/** A noisy sine wave of n samples. */
export function generate(n: number, seed: number): Float64Array {
  const out = empty(Float64Array, n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    out[i] = Math.sin(i / 100) + (state / 2 ** 32 - 0.5) * 0.2;
  }
  return out;
}

/** A moving average over `width` samples. */
export function smooth(x: Float64Array, width: number): Float64Array {
  const out = empty(Float64Array, x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    sum += x[i]!;
    if (i >= width) sum -= x[i - width]!;
    out[i] = sum / Math.min(i + 1, width);
  }
  return out;
}

/** Mean and extremes. */
export function stats(x: Float64Array): { mean: number; min: number; max: number } {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { mean: sum / x.length, min, max };
}
