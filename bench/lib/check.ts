// Result checks. Every result the benchmark gets back is checked; a failed
// check is recorded (and printed) and makes the run exit non-zero.

export class Checks {
  passed = 0;
  readonly failures: string[] = [];

  /** Records one check; returns whether it passed. */
  expect(ok: boolean, what: string): boolean {
    if (ok) this.passed++;
    else {
      this.failures.push(what);
      console.error(`\n  CHECK FAILED: ${what}`);
    }
    return ok;
  }

  get failed(): number {
    return this.failures.length;
  }
}

/** Sum of the elements, in index order (exact for the benchmark's data: multiples of 0.5 far below 2^52). */
export function sumOf(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
}

/** The input of the array workloads: x[i] = (i % 1000) / 2, so every sum is exact. */
export function pattern(n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (i % 1000) / 2;
  return x;
}

/** Describes why `y` is not `x + offset` elementwise, judged by length, first, last and sum; undefined if it is. */
export function addOneMismatch(
  y: unknown,
  n: number,
  expected: { first: number; last: number; sum: number },
): string | undefined {
  if (!(y instanceof Float64Array))
    return `expected a Float64Array, got ${Object.prototype.toString.call(y)}`;
  if (y.length !== n) return `length ${y.length}, expected ${n}`;
  if (y[0] !== expected.first) return `first ${y[0]}, expected ${expected.first}`;
  if (y[n - 1] !== expected.last) return `last ${y[n - 1]}, expected ${expected.last}`;
  const s = sumOf(y);
  if (s !== expected.sum) return `sum ${s}, expected ${expected.sum}`;
  return undefined;
}
