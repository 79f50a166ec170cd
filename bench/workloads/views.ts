// Workload (e): small views of a big array crossing the process boundary.
// Arguments: submit(sum, big.subarray(k, k + 10)) against
// submit(sum, big.slice(k, k + 10)), big a heap Float64Array of n; results: a
// task returning a 10-element subarray of a big array the worker made (once)
// against one returning a slice of it. Round-trip latency, interleaved.
import type { Checks } from '../lib/check.js';
import { type InterleavedResult, measureInterleaved } from '../lib/interleave.js';
import type { Variant } from '../lib/measure.js';
import { poolRunner } from '../lib/runner.js';
import { ShmexPool } from '../peers/shmex.js';
import { WORKERS } from './big-arrays.js';

export const VIEW_VARIANTS = ['arg-subarray', 'arg-slice', 'result-subarray', 'result-slice'] as const;

export interface ViewsResult {
  n: number;
  arrayMB: number;
  variants: InterleavedResult[];
}

const VIEW = 10;

/** x[i] = (i % 1000) / 2, as the worker's big array: elements [k, k + 10) sum to this. */
function expectedSum(k: number): number {
  let s = 0;
  for (let i = k; i < k + VIEW; i++) s += (i % 1000) / 2;
  return s;
}

export async function runViews(
  prefix: string,
  n: number,
  plan: { warmupCalls: number; rounds: number },
  checks: Checks,
): Promise<ViewsResult> {
  const big = new Float64Array(n);
  for (let i = 0; i < n; i++) big[i] = (i % 1000) / 2;
  // Each call takes another offset (spread over the array), so a result from a wrong call shows.
  const offsets = (() => {
    let call = 0;
    return () => ((call++ * 7_919_993) % (n - VIEW)) | 0;
  })();
  const argVariant = (id: string, label: string, view: (k: number) => Float64Array): Variant => ({
    id,
    label,
    open: () => {
      let k = 0;
      return poolRunner(
        () => new ShmexPool(WORKERS),
        (p) => {
          k = offsets();
          return Promise.resolve(p.ex.submit(p.tasks.sum, view(k)));
        },
        (s) => (s === expectedSum(k) ? undefined : `sum ${s} for offset ${k}, expected ${expectedSum(k)}`),
      );
    },
  });
  const resultVariant = (id: string, label: string, task: 'resultSubarray' | 'resultSlice'): Variant => ({
    id,
    label,
    note: `each worker makes its array of ${n} once, before measuring, and keeps it`,
    open: () => {
      let k = 0;
      const runner = poolRunner(
        () => new ShmexPool(WORKERS),
        (p) => {
          k = offsets();
          return Promise.resolve(p.ex.submit(p.shmexTasks[task], n, k));
        },
        (y) => {
          if (!(y instanceof Float64Array)) return `expected a Float64Array, got ${String(y)}`;
          if (y.length !== VIEW) return `length ${y.length}, expected ${VIEW}`;
          for (let i = 0; i < VIEW; i++) {
            if (y[i] !== ((k + i) % 1000) / 2) return `element ${i} is ${y[i]} for offset ${k}`;
          }
          return undefined;
        },
      );
      const warm = runner.warm;
      return {
        ...runner,
        // Tasks submitted together while every worker is idle go one to each worker: each makes its array.
        warm: async () => {
          await warm();
          await Promise.all(Array.from({ length: WORKERS }, () => runner.call()));
        },
      };
    },
  });
  const variants = [
    argVariant('arg-subarray', `argument big.subarray(k, k + ${VIEW}) (heap array of ${n})`, (k) =>
      big.subarray(k, k + VIEW),
    ),
    argVariant('arg-slice', `argument big.slice(k, k + ${VIEW})`, (k) => big.slice(k, k + VIEW)),
    resultVariant(
      'result-subarray',
      `result y.subarray(k, k + ${VIEW}) of a worker array of ${n}`,
      'resultSubarray',
    ),
    resultVariant('result-slice', `result y.slice(k, k + ${VIEW})`, 'resultSlice'),
  ];
  return {
    n,
    arrayMB: (n * 8) / 1e6,
    variants: await measureInterleaved(prefix, variants, { ...plan, collectBetween: true }, checks),
  };
}
