// Types of proc-memory.mjs.
export interface MemorySample {
  privateKb: number;
  shmKb: number;
  totalKb: number;
}
export declare function processTree(root: number): number[];
export declare function privateKb(root: number, pids?: number[]): number;
export declare function shmUsedKb(dir?: string): number;
export declare function sample(root: number, pids?: number[], dir?: string): MemorySample;
