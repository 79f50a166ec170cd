// Workload (h): a submit burst. `count` calls of ex.submit(sum, x) in a
// synchronous loop, x a heap Float64Array of n, then all awaited. Reports
// how long the loop blocks the event loop (its own time, and the largest
// event-loop delay seen by perf_hooks.monitorEventLoopDelay over the whole
// burst), the time until every result is in, and the peak /dev/shm growth.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Checks, pattern, sumOf } from '../lib/check.js';
import { sleep } from '../lib/gc.js';
import { settle } from '../lib/measure.js';
import { fmtMs, progress } from '../lib/progress.js';
import type { ShmPeakSampler } from '../lib/shm-peak.js';
import { type Summary, summarize } from '../lib/stats.js';
import { ShmexPool } from '../peers/shmex.js';
import { WORKERS } from './big-arrays.js';

export interface BurstRound {
  submitLoopMs: number;
  maxEventLoopDelayMs: number;
  totalMs: number;
  shmPeakMB: number;
}

export interface BurstResult {
  n: number;
  arrayMB: number;
  count: number;
  rounds: BurstRound[];
  submitLoopMs?: Summary;
  maxEventLoopDelayMs?: Summary;
  totalMs?: Summary;
  shmPeakMB?: Summary;
  checksPassed: number;
  failures: string[];
}

export async function runSubmitBurst(
  prefix: string,
  n: number,
  count: number,
  rounds: number,
  shm: ShmPeakSampler,
  checks: Checks,
): Promise<BurstResult> {
  const x = pattern(n);
  const expected = sumOf(x);
  const out: BurstResult = { n, arrayMB: (n * 8) / 1e6, count, rounds: [], checksPassed: 0, failures: [] };
  const pool = new ShmexPool(WORKERS);
  progress.step(`${prefix} ${count} x submit(sum, ${out.arrayMB} MB), ${rounds} rounds:`);
  try {
    await pool.warm();
    for (let round = 0; round < rounds; round++) {
      progress.update(`${round + 1}/${rounds}`);
      await settle();
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      // The histogram's first tick only sets its reference time: let it tick before the loop.
      await sleep(20);
      shm.start();
      const t0 = performance.now();
      const futures = [];
      for (let i = 0; i < count; i++) futures.push(pool.ex.submit(pool.tasks.sum, x));
      const submitLoopMs = performance.now() - t0;
      const results = await Promise.all(futures);
      const totalMs = performance.now() - t0;
      delay.disable();
      const shmPeakMB = shm.stop().addedPeakMB;
      out.rounds.push({ submitLoopMs, maxEventLoopDelayMs: delay.max / 1e6, totalMs, shmPeakMB });
      const wrong = results.filter((s) => s !== expected).length;
      const what = `round ${round + 1}: ${wrong} of ${count} sums wrong (expected ${expected})`;
      if (checks.expect(wrong === 0, `${prefix} burst ${what}`)) out.checksPassed++;
      else out.failures.push(what);
    }
  } catch (error) {
    const message = `threw: ${(error as Error)?.stack ?? String(error)}`;
    checks.expect(false, `${prefix} burst: ${message}`);
    out.failures.push(message);
  } finally {
    shm.cancel();
    await pool.close().catch(() => {});
    await settle();
  }
  if (out.rounds.length > 0) {
    out.submitLoopMs = summarize(out.rounds.map((r) => r.submitLoopMs));
    out.maxEventLoopDelayMs = summarize(out.rounds.map((r) => r.maxEventLoopDelayMs));
    out.totalMs = summarize(out.rounds.map((r) => r.totalMs));
    out.shmPeakMB = summarize(out.rounds.map((r) => r.shmPeakMB));
    progress.done(
      `loop ${fmtMs(out.submitLoopMs.median)} ms, max delay ${fmtMs(out.maxEventLoopDelayMs.median)} ms, all in ${fmtMs(out.totalMs.median)} ms, /dev/shm +${out.shmPeakMB.median.toFixed(0)} MB`,
    );
  } else progress.done('FAILED');
  return out;
}
