// Workload (f): a memory-bound reduction. The sum of a Float64Array of n in
// 8 subarray chunks through ex.map on 2 workers, against the same sum in this
// process; the input is either a plain heap array (each chunk is copied into
// shared memory) or an array made with shmex from() (already in shared
// memory). Interleaved; the peak /dev/shm growth during the map is sampled.
import { from, release } from 'shmex';
import { type Checks, pattern, sumOf } from '../lib/check.js';
import { type InterleavedResult, measureInterleaved } from '../lib/interleave.js';
import type { Variant } from '../lib/measure.js';
import { inProcessRunner, poolRunner } from '../lib/runner.js';
import type { ShmPeakSampler } from '../lib/shm-peak.js';
import { ShmexPool } from '../peers/shmex.js';
import { sum } from '../workers/tasks.mjs';
import { WORKERS } from './big-arrays.js';

export const REDUCTION_VARIANTS = ['in-process', 'shmex-heap', 'shmex-from'] as const;
export const CHUNKS = 8;

export interface ReductionResult {
  n: number;
  arrayMB: number;
  chunks: number;
  variants: InterleavedResult[];
}

function chunksOf(x: Float64Array): Float64Array[] {
  const size = Math.ceil(x.length / CHUNKS);
  return Array.from({ length: CHUNKS }, (_, i) => x.subarray(i * size, Math.min(x.length, (i + 1) * size)));
}

export async function runReduction(
  prefix: string,
  n: number,
  plan: { warmupCalls: number; rounds: number; shm: ShmPeakSampler },
  checks: Checks,
): Promise<ReductionResult> {
  const x = pattern(n);
  const expected = sumOf(x);
  const xShm = from(Float64Array, x);
  const check = (s: number) => (s === expected ? undefined : `sum ${s}, expected ${expected}`);
  const mapped = (id: string, label: string, input: Float64Array, note: string): Variant => ({
    id,
    label,
    note,
    open: () =>
      poolRunner(
        () => new ShmexPool(WORKERS),
        async (p) => {
          // Partial sums of whole multiples of 0.5 far below 2^52 add up exactly in any order.
          let total = 0;
          for await (const s of p.ex.map(p.tasks.sum, chunksOf(input))) total += s as number;
          return total;
        },
        check,
      ),
  });
  const variants: Variant[] = [
    {
      id: 'in-process',
      label: 'in-process sum, one thread',
      open: () => inProcessRunner(() => sum(x), check),
    },
    mapped(
      'shmex-heap',
      `shmex, ex.map(sum, ${CHUNKS} subarrays of a heap array)`,
      x,
      'the chunks are views of a plain Float64Array: shmex copies each into shared memory',
    ),
    mapped(
      'shmex-from',
      `shmex, ex.map(sum, ${CHUNKS} subarrays of an array made with from())`,
      xShm,
      'the array is made once with from(Float64Array, x) before measuring (not timed): it lives in shared memory',
    ),
  ];
  try {
    return {
      n,
      arrayMB: (n * 8) / 1e6,
      chunks: CHUNKS,
      variants: await measureInterleaved(prefix, variants, plan, checks),
    };
  } finally {
    release(xShm);
  }
}
