// Part of (a)/(b): a loop of shmex calls that drops each result (its shared
// memory goes back when the garbage collector gets to it) against the same
// loop calling release(result) as soon as the result has been checked.
import { from, release } from 'shmex';
import { addOneMismatch, type Checks, pattern, sumOf } from '../lib/check.js';
import { settle } from '../lib/measure.js';
import type { MemoryPeak, MemorySampler } from '../lib/memory.js';
import { fmtMs, progress } from '../lib/progress.js';
import { type Summary, summarize } from '../lib/stats.js';
import { ShmexPool } from '../peers/shmex.js';
import { WORKERS } from './big-arrays.js';

export const RELEASE_LOOP_VARIANTS = ['shmex-loop-drop', 'shmex-loop-release'] as const;

export interface ReleaseLoopResult {
  id: string;
  label: string;
  n: number;
  iterations: number;
  /** Per-iteration times of the timed pass (no sampler running). */
  perIteration?: Summary;
  samplesMs: number[];
  /** Per-iteration times of the memory pass (sampler running), for reference. */
  memoryPassMs?: Summary;
  memory?: MemoryPeak;
  checksPassed: number;
  failures: string[];
}

export async function runReleaseLoops(
  prefix: string,
  n: number,
  iterations: number,
  sampler: MemorySampler,
  checks: Checks,
): Promise<ReleaseLoopResult[]> {
  const x = pattern(n);
  const expected = { first: x[0]! + 1, last: x[n - 1]! + 1, sum: sumOf(x) + n };
  const z = from(Float64Array, x);
  const out: ReleaseLoopResult[] = [];
  const loops = [
    { id: RELEASE_LOOP_VARIANTS[0], label: 'shmex loop, results dropped (freed at GC)', release: false },
    { id: RELEASE_LOOP_VARIANTS[1], label: 'shmex loop, release(result) after each check', release: true },
  ];
  for (const loop of loops) {
    const result: ReleaseLoopResult = {
      id: loop.id,
      label: loop.label,
      n,
      iterations,
      samplesMs: [],
      checksPassed: 0,
      failures: [],
    };
    progress.step(`${prefix} ${loop.label}:`);
    const pool = new ShmexPool(WORKERS);
    try {
      await pool.warm();
      const pass = async (name: string): Promise<number[]> => {
        const times: number[] = [];
        for (let i = 0; i < iterations; i++) {
          progress.update(`${name} ${i + 1}/${iterations}`);
          // Timed: the call and the release(); not the check in between.
          const t0 = performance.now();
          const y = (await pool.run('addOne', z)) as Float64Array;
          let ms = performance.now() - t0;
          const problem = addOneMismatch(y, n, expected);
          if (loop.release) {
            const t1 = performance.now();
            release(y);
            ms += performance.now() - t1;
          }
          times.push(ms);
          if (checks.expect(problem === undefined, `${prefix} ${loop.id} ${name} ${i + 1}: ${problem}`)) {
            result.checksPassed++;
          } else result.failures.push(`${name} ${i + 1}: ${problem}`);
        }
        return times;
      };
      await settle();
      sampler.start();
      const memoryTimes = await pass('memory pass');
      result.memory = sampler.stop();
      result.memoryPassMs = summarize(memoryTimes);
      await settle();
      result.samplesMs = await pass('timed');
      result.perIteration = summarize(result.samplesMs);
    } catch (error) {
      const message = `threw: ${(error as Error)?.stack ?? String(error)}`;
      checks.expect(false, `${prefix} ${loop.id}: ${message}`);
      result.failures.push(message);
    } finally {
      sampler.cancel();
      await pool.close().catch(() => {});
      await settle();
    }
    progress.done(
      [
        result.perIteration === undefined ? '' : `median ${fmtMs(result.perIteration.median)} ms/iteration`,
        result.memory === undefined ? '' : `+${result.memory.addedPeakMB.toFixed(0)} MB peak`,
        result.failures.length === 0
          ? `${result.checksPassed} checks ok`
          : `${result.failures.length} FAILED`,
      ]
        .filter((p) => p !== '')
        .join(' · '),
    );
    out.push(result);
  }
  release(z);
  return out;
}
