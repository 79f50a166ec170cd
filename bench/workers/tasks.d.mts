// Types of tasks.mjs, for the TypeScript side of the benchmark.
export declare function addOne(x: Float64Array): Float64Array;
export declare function addOneInPlace(x: Float64Array): number;
export declare function sum(x: Float64Array): number;
export declare function kernel(x: Float64Array): Float64Array;
export declare function kernelSpin(from: number, to: number): number;
export declare function noop(): number;
export declare function stripBlur(
  rgba: Uint8ClampedArray,
  width: number,
  haloTop: number,
  rows: number,
): Uint8Array;
