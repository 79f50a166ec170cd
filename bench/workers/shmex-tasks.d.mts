// Types of shmex-tasks.mjs.
export declare function addOneShmOut(x: Float64Array): Float64Array;
