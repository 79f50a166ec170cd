// Types of shmex-tasks.mjs.
export declare function addOneShmOut(x: Float64Array): Float64Array;
export declare function resultSubarray(n: number, k: number): Float64Array;
export declare function resultSlice(n: number, k: number): Float64Array;
