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

/**
 * Grayscale then a 3x3 box blur of one horizontal strip of an RGBA image.
 * `rgba` holds the strip's rows plus up to one halo row above (`haloTop`, 0
 * or 1) and below; `rows` rows starting at row `haloTop` are produced. Rows
 * beyond the ones passed (the image's edges) and columns beyond the edges are
 * clamped, so strips with their halos give exactly the whole image's result.
 */
export function stripBlur(rgba, width, haloTop, rows) {
  const rowsIn = rgba.length / (width * 4);
  const gray = new Uint8Array(rowsIn * width);
  for (let p = 0, q = 0; p < gray.length; p++, q += 4) {
    gray[p] = (77 * rgba[q] + 150 * rgba[q + 1] + 29 * rgba[q + 2] + 128) >> 8;
  }
  const out = new Uint8Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const y = r + haloTop;
    const up = (y > 0 ? y - 1 : 0) * width;
    const mid = y * width;
    const down = (y < rowsIn - 1 ? y + 1 : y) * width;
    for (let x = 0; x < width; x++) {
      const l = x > 0 ? x - 1 : 0;
      const rt = x < width - 1 ? x + 1 : x;
      const s =
        gray[up + l] +
        gray[up + x] +
        gray[up + rt] +
        gray[mid + l] +
        gray[mid + x] +
        gray[mid + rt] +
        gray[down + l] +
        gray[down + x] +
        gray[down + rt];
      out[r * width + x] = ((s + 4) / 9) | 0;
    }
  }
  return out;
}
