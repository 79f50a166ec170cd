// Workload (d): a compute-bound kernel, y[i] = sin(x) * exp(-x^2) + sqrt(|x|),
// over one array, split in two halves run at once on the 2 workers, against
// the whole array in-process. The halves are separate arrays made once
// before measuring (a subarray would make a structured clone, and shmex's
// copy-in, carry the whole underlying buffer twice).
import { from, release } from 'shmex';
import { type Checks, pattern, sumOf } from '../lib/check.js';
import { measureVariant, type Plan, type Variant, type VariantResult } from '../lib/measure.js';
import { inProcessRunner, poolRunner } from '../lib/runner.js';
import { ForkPool } from '../peers/fork.js';
import { PiscinaPool } from '../peers/piscina.js';
import { ShmexPool } from '../peers/shmex.js';
import { TinypoolPool } from '../peers/tinypool.js';
import type { PeerPool } from '../peers/types.js';
import { WorkerpoolPool } from '../peers/workerpool.js';
import { kernel, kernelSpin } from '../workers/tasks.mjs';
import { WORKERS } from './big-arrays.js';

export const CEILING_VARIANTS = ['ceiling-in-process', 'ceiling-2-children'] as const;

export const COMPUTE_VARIANTS = [
  'in-process',
  'shmex-copy-in',
  'shmex-zero-copy-in',
  'piscina-clone',
  'tinypool',
  'workerpool-process',
  'fork-advanced',
  'in-process-again',
] as const;

export interface ComputeResult {
  n: number;
  variants: VariantResult[];
  /** The machine's ceiling: the same arithmetic with no arrays, in-process vs 2 fork children at once. */
  ceiling: VariantResult[];
}

interface Reference {
  length: number;
  first: number;
  last: number;
  sum: number;
}

function reference(y: Float64Array): Reference {
  return { length: y.length, first: y[0]!, last: y[y.length - 1]!, sum: sumOf(y) };
}

function mismatch(y: unknown, ref: Reference, what: string): string | undefined {
  if (!(y instanceof Float64Array))
    return `${what}: expected a Float64Array, got ${Object.prototype.toString.call(y)}`;
  const got = reference(y);
  for (const key of ['length', 'first', 'last', 'sum'] as const) {
    if (got[key] !== ref[key]) return `${what}: ${key} ${got[key]}, expected ${ref[key]}`;
  }
  return undefined;
}

export async function runCompute(
  prefix: string,
  n: number,
  plan: Plan,
  checks: Checks,
): Promise<ComputeResult> {
  const x = pattern(n).map((v, i) => (v - 250) / 100 + (i % 7) * 1e-3); // values around [-2.5, 2.5]
  const h = n >> 1;
  const lo = x.slice(0, h);
  const hi = x.slice(h);
  const loShm = from(Float64Array, lo);
  const hiShm = from(Float64Array, hi);
  // The expected results, computed once here (same code, same Node.js binary: the same bits).
  const whole = reference(kernel(x));
  const refLo = reference(kernel(lo));
  const refHi = reference(kernel(hi));
  const checkHalves = (r: unknown): string | undefined => {
    if (!Array.isArray(r) || r.length !== 2) return 'expected two halves';
    return mismatch(r[0], refLo, 'first half') ?? mismatch(r[1], refHi, 'second half');
  };
  const split = (make: () => PeerPool, label: string, id: string, inputs: [Float64Array, Float64Array]) =>
    ({
      id,
      label,
      open: () =>
        poolRunner(
          make,
          (p) => Promise.all([p.run('kernel', inputs[0]), p.run('kernel', inputs[1])]),
          checkHalves,
        ),
    }) satisfies Variant;
  const inProcess = (id: string, label: string): Variant => ({
    id,
    label,
    open: () =>
      inProcessRunner(
        () => kernel(x),
        (y) => mismatch(y, whole, 'result'),
      ),
  });
  const variants: Variant[] = [
    inProcess('in-process', 'in-process, whole array, one thread'),
    split(() => new ShmexPool(WORKERS), 'shmex, 2 halves, copy-in (heap halves)', 'shmex-copy-in', [lo, hi]),
    {
      ...split(
        () => new ShmexPool(WORKERS),
        'shmex, 2 halves, zero-copy input (halves made with from())',
        'shmex-zero-copy-in',
        [loShm, hiShm],
      ),
      note: 'the halves are made once with from() before measuring (not timed)',
    },
    split(() => new PiscinaPool(WORKERS), 'piscina, 2 halves (structured clone)', 'piscina-clone', [lo, hi]),
    split(() => new TinypoolPool(WORKERS), 'tinypool, 2 halves', 'tinypool', [lo, hi]),
    split(
      () => new WorkerpoolPool(WORKERS),
      "workerpool process mode, 2 halves ('advanced')",
      'workerpool-process',
      [lo, hi],
    ),
    split(() => new ForkPool(WORKERS), "child_process.fork, 2 children ('advanced')", 'fork-advanced', [
      lo,
      hi,
    ]),
    inProcess('in-process-again', 'in-process, again (drift check)'),
  ];
  const results: VariantResult[] = [];
  for (const variant of variants) results.push(await measureVariant(prefix, variant, plan, checks));
  release(loShm);
  release(hiShm);
  const ceiling: VariantResult[] = [];
  for (const variant of ceilingVariants(n)) ceiling.push(await measureVariant(prefix, variant, plan, checks));
  return { n, variants: results, ceiling };
}

/**
 * How much faster 2 CPU-bound processes are than 1 here, with no data moved:
 * kernelSpin over n values in-process, and over two halves in 2 fork children
 * at once. Virtual CPUs may deliver much less than 2x; split speedups above
 * cannot beat this.
 */
function ceilingVariants(n: number): Variant[] {
  const h = n >> 1;
  const whole = kernelSpin(0, n);
  const lo = kernelSpin(0, h);
  const hi = kernelSpin(h, n);
  return [
    {
      id: 'ceiling-in-process',
      label: 'ceiling: the arithmetic alone, in-process',
      open: () =>
        inProcessRunner(
          () => kernelSpin(0, n),
          (s) => (s === whole ? undefined : `sum ${s}, expected ${whole}`),
        ),
    },
    {
      id: 'ceiling-2-children',
      label: 'ceiling: the arithmetic alone, 2 halves in 2 fork children at once',
      open: () =>
        poolRunner(
          () => new ForkPool(WORKERS),
          (p) => Promise.all([p.call('kernelSpin', [0, h]), p.call('kernelSpin', [h, n])]),
          ([a, b]) => (a === lo && b === hi ? undefined : `sums ${a}, ${b}, expected ${lo}, ${hi}`),
        ),
    },
  ];
}
