// Workloads (a) and (b): addOne on one big Float64Array, y[i] = x[i] + 1
// into a new array, through every runner; plus shmex's in-place and
// empty()-output variants, which run a different task and are labelled so.
import { from, ProcessPoolExecutor, release, shared, ThreadPoolExecutor } from 'shmex';
import { addOneMismatch, type Checks, pattern, sumOf } from '../lib/check.js';
import { measureVariant, type Plan, type Variant, type VariantResult } from '../lib/measure.js';
import { inProcessRunner, poolRunner } from '../lib/runner.js';
import { ForkPool } from '../peers/fork.js';
import { PiscinaPool } from '../peers/piscina.js';
import { ShmexPool } from '../peers/shmex.js';
import { TinypoolPool } from '../peers/tinypool.js';
import { WorkerpoolPool } from '../peers/workerpool.js';
import { addOne, addOneInPlace } from '../workers/tasks.mjs';
import { CHILD_REFERENCE_VARIANTS, runChildReferences } from './child-reference.js';

export const WORKERS = 2;

export interface BigArraysResult {
  n: number;
  arrayMB: number;
  variants: VariantResult[];
}

/** The variant ids, in the order they run (the smoke test checks every one is reported). */
export const BIG_ARRAY_VARIANTS = [
  'in-process',
  'in-process-in-place',
  'shmex-copy-in',
  'shmex-copy-in-tuned',
  'shmex-zero-copy-in',
  'shmex-zero-copy-in-empty-out',
  'shmex-shared-in-place',
  'shmex-threads-copy-in',
  'piscina-clone',
  'piscina-transfer',
  'tinypool',
  'workerpool-process',
  'fork-advanced',
  ...CHILD_REFERENCE_VARIANTS,
  'in-process-again',
] as const;

/** Checks an in-place array after `k` increments of every element of `x`. */
function inPlaceMismatch(z: Float64Array, x: Float64Array, sumX: number, k: number): string | undefined {
  const n = x.length;
  return addOneMismatch(z, n, { first: x[0]! + k, last: x[n - 1]! + k, sum: sumX + k * n });
}

export function bigArrayVariants(n: number): {
  variants: Variant[];
  expected: { first: number; last: number; sum: number };
  dispose: () => void;
} {
  const x = pattern(n);
  const sumX = sumOf(x);
  const expected = { first: x[0]! + 1, last: x[n - 1]! + 1, sum: sumX + n };
  const xFirst = x[0]!;
  const xLast = x[n - 1]!;
  /** The result is addOne(x), and the input is unchanged (value semantics). */
  const checkAddOne =
    (input: Float64Array) =>
    (y: unknown): string | undefined => {
      if (input.length !== n || input[0] !== xFirst || input[n - 1] !== xLast)
        return 'the input was modified';
      return addOneMismatch(y, n, expected);
    };
  // Inputs that live in shared memory, made once before measuring (not timed): the zero-copy
  // input of two variants, and the array changed in place by the shared() variant.
  const z = from(Float64Array, x);
  const inPlaceShm = from(Float64Array, x);
  const inPlaceHeap = x.slice();
  let shmIncrements = 0;
  let heapIncrements = 0;

  const inProcess = (id: string, label: string, note?: string): Variant => ({
    id,
    label,
    ...(note === undefined ? {} : { note }),
    open: () => inProcessRunner(() => addOne(x), checkAddOne(x)),
  });

  const variants: Variant[] = [
    inProcess('in-process', 'in-process'),
    {
      id: 'in-process-in-place',
      label: 'in-process, in place (x[i] += 1)',
      note: 'reference for the shared() row: a different task (addOneInPlace), no output array',
      open: () =>
        inProcessRunner(
          () => {
            const r = addOneInPlace(inPlaceHeap);
            heapIncrements++;
            return r;
          },
          (r) => (r !== n ? `returned ${r}` : inPlaceMismatch(inPlaceHeap, x, sumX, heapIncrements)),
        ),
    },
    {
      id: 'shmex-copy-in',
      label: 'shmex, copy-in (heap array argument)',
      note: "workerAllocator 'shared', the default: the worker's new Float64Array(n) lives in a pooled segment, so the result comes back without a copy",
      open: () =>
        poolRunner(
          () => new ShmexPool(WORKERS),
          (p) => p.run('addOne', x),
          checkAddOne(x),
        ),
    },
    {
      id: 'shmex-copy-in-tuned',
      label: "shmex, copy-in, workerAllocator: 'tuned' (the task's new Float64Array on the worker's heap)",
      note: "same task and argument as the copy-in row; with workerAllocator: 'tuned' the worker's new Float64Array(n) is on its tuned heap, and the worker copies the result into a segment. Its added peak memory counts the memory the tuned heap keeps for the next task (up to 512 MiB): one output array, or two when the last task's array was still alive as the next one was made (V8 counts an array made during a marking of the heap as alive until that marking ends), hence about 3× or 4× from run to run",
      open: () =>
        poolRunner(
          () => new ShmexPool(WORKERS, ProcessPoolExecutor, { workerAllocator: 'tuned' }),
          (p) => p.run('addOne', x),
          checkAddOne(x),
        ),
    },
    {
      id: 'shmex-zero-copy-in',
      label: 'shmex, zero-copy input (argument made with from())',
      note: 'the input is made once with from(Float64Array, x) before measuring (not timed)',
      open: () =>
        poolRunner(
          () => new ShmexPool(WORKERS),
          (p) => p.run('addOne', z),
          checkAddOne(z),
        ),
    },
    {
      id: 'shmex-zero-copy-in-empty-out',
      label: 'shmex, zero-copy input + output made with empty() [task differs: addOneShmOut]',
      note: 'the task allocates its output with shmex empty(Float64Array, n) instead of new Float64Array(n); same loop',
      open: () =>
        poolRunner(
          () => new ShmexPool(WORKERS),
          (p) => Promise.resolve(p.shmexTasks.addOneShmOut(z)),
          checkAddOne(z),
        ),
    },
    {
      id: 'shmex-shared-in-place',
      label: 'shmex, shared(z) in place [task differs: x[i] += 1, returns the length]',
      note: 'z made once with from(); the worker writes into the caller’s array; nothing big comes back',
      open: () =>
        poolRunner(
          () => new ShmexPool(WORKERS),
          async (p) => {
            const r = await p.tasks.addOneInPlace(shared(inPlaceShm));
            shmIncrements++;
            return r;
          },
          (r) => (r !== n ? `returned ${r}` : inPlaceMismatch(inPlaceShm, x, sumX, shmIncrements)),
        ),
    },
    {
      id: 'shmex-threads-copy-in',
      label: 'shmex ThreadPoolExecutor, copy-in (heap array argument)',
      open: () =>
        poolRunner(
          () => new ShmexPool(WORKERS, ThreadPoolExecutor),
          (p) => p.run('addOne', x),
          checkAddOne(x),
        ),
    },
    {
      id: 'piscina-clone',
      label: 'piscina (structured clone both ways)',
      open: () =>
        poolRunner(
          () => new PiscinaPool(WORKERS),
          (p) => p.run('addOne', x),
          checkAddOne(x),
        ),
    },
    {
      id: 'piscina-transfer',
      label: 'piscina, transfer (copy x, transferList in, Piscina.move out)',
      note: 'transferring detaches the array, so each call first copies x (x.slice(), inside the timing) and transfers the copy: the caller keeps its x, as with every other row',
      open: () =>
        poolRunner(
          () => new PiscinaPool(WORKERS),
          (p) => p.runTransfer('addOne', x.slice()),
          checkAddOne(x),
        ),
    },
    {
      id: 'tinypool',
      label: 'tinypool (worker threads, structured clone)',
      open: () =>
        poolRunner(
          () => new TinypoolPool(WORKERS),
          (p) => p.run('addOne', x),
          checkAddOne(x),
        ),
    },
    {
      id: 'workerpool-process',
      label: "workerpool, process mode (serialization: 'advanced')",
      open: () =>
        poolRunner(
          () => new WorkerpoolPool(WORKERS),
          (p) => p.run('addOne', x),
          checkAddOne(x),
        ),
    },
    {
      id: 'fork-advanced',
      label: "child_process.fork IPC (serialization: 'advanced')",
      open: () =>
        poolRunner(
          () => new ForkPool(WORKERS),
          (p) => p.run('addOne', x),
          checkAddOne(x),
        ),
    },
    inProcess('in-process-again', 'in-process, again (drift check)', 'the first row repeated at the end'),
  ];
  return {
    variants,
    expected,
    dispose: () => {
      // The shared-memory inputs go back now rather than at garbage collection.
      release(z);
      release(inPlaceShm);
    },
  };
}

export async function runBigArrays(
  prefix: string,
  n: number,
  plan: Plan,
  checks: Checks,
): Promise<BigArraysResult> {
  const { variants, expected, dispose } = bigArrayVariants(n);
  const results: VariantResult[] = [];
  const last = variants.at(-1)!; // the drift check comes after the child-process references
  for (const variant of variants.slice(0, -1))
    results.push(await measureVariant(prefix, variant, plan, checks));
  dispose();
  results.push(...(await runChildReferences(prefix, n, plan, expected, checks)));
  results.push(await measureVariant(prefix, last, plan, checks));
  return { n, arrayMB: (n * 8) / 1e6, variants: results };
}
