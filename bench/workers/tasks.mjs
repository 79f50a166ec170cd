// The task functions of the benchmark, one definition for every runner:
// in-process, shmex (module tasks), piscina, tinypool, workerpool and the
// plain child_process.fork child all import them from here, so every runner
// executes exactly the same code. Plain JavaScript: worker threads and
// processes of the peers load it without a TypeScript loader.

/** y[i] = x[i] + 1 into a new array. */
export function addOne(x) {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] + 1;
  return y;
}

/** x[i] += 1 in place; returns only the length. */
export function addOneInPlace(x) {
  for (let i = 0; i < x.length; i++) x[i] += 1;
  return x.length;
}

/** The sum of the elements (the tiny-task workload). */
export function sum(x) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

/** A compute-bound kernel: y[i] = sin(x) * exp(-x^2) + sqrt(|x|), into a new array. */
export function kernel(x) {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = Math.sin(v) * Math.exp(-v * v) + Math.sqrt(Math.abs(v));
  }
  return y;
}

/**
 * The kernel's arithmetic without the arrays: sums the kernel over the values
 * v(i) = ((i mod 1000) - 500) / 200 for i in [from, to). Measures how much
 * faster two CPU-bound processes are than one on this machine (no data moved).
 */
export function kernelSpin(from, to) {
  let s = 0;
  for (let i = from; i < to; i++) {
    const v = ((i % 1000) - 500) / 200;
    s += Math.sin(v) * Math.exp(-v * v) + Math.sqrt(Math.abs(v));
  }
  return s;
}

/** Does nothing: used to start a pool's workers before a measurement. */
export function noop() {
  return 0;
}
