// Measuring variants side by side: every variant's runner is opened and
// warmed first (warm-up calls interleaved like the timed ones), then each
// round times one call of every variant, in an order rotated from round to
// round, so drift and noise from other processes fall on all of them alike.
// Every result is checked outside the timing. With a ShmPeakSampler, each
// variant's warm-up calls run alone instead, and the peak /dev/shm growth
// during them is recorded.

import { CallTracer, tracing } from './call-trace.js';
import type { Checks } from './check.js';
import { gc, sleep } from './gc.js';
import { type Runner, settle, type Variant } from './measure.js';
import { fmtMs, progress } from './progress.js';
import type { ShmPeakSampler } from './shm-peak.js';
import { type Summary, summarize } from './stats.js';

export interface InterleavedResult {
  id: string;
  label: string;
  note?: string;
  steady?: Summary;
  samplesMs: number[];
  /** Peak /dev/shm growth over the warm-up calls (MB), when sampled. */
  shmPeakMB?: number;
  checksPassed: number;
  failures: string[];
}

export interface InterleavePlan {
  warmupCalls: number;
  rounds: number;
  /** Samples /dev/shm during the warm-up calls. */
  shm?: ShmPeakSampler;
  /**
   * Collects garbage (and lets 'free' messages through) before each timed
   * call, outside the timing: without it, dropping one variant's big results
   * lands on whichever variant runs next, which swamps sub-millisecond rows.
   * Idle segments are not trimmed, so recycling works as in back-to-back calls.
   */
  collectBetween?: boolean;
  /**
   * With collectBetween: one untimed call of the same variant between the
   * collection and each timed call, so that what the timed call finds to
   * collect is its own variant's garbage (as in a caller's loop of that
   * variant), not the other variants'. Doubles the calls.
   */
  pairCalls?: boolean;
}

export async function measureInterleaved(
  prefix: string,
  variants: Variant[],
  plan: InterleavePlan,
  checks: Checks,
): Promise<InterleavedResult[]> {
  const rows = variants.map((v) => ({
    variant: v,
    runner: undefined as Runner<unknown> | undefined,
    out: {
      id: v.id,
      label: v.label,
      ...(v.note === undefined ? {} : { note: v.note }),
      samplesMs: [],
      checksPassed: 0,
      failures: [],
    } as InterleavedResult,
  }));
  type Row = (typeof rows)[number];
  const tracer = tracing ? new CallTracer() : undefined;
  const callChecked = async (row: Row, where: string): Promise<number> => {
    const runner = row.runner!;
    const traced = tracer?.start(row.out.id);
    const t0 = performance.now();
    const result = await runner.call();
    const ms = performance.now() - t0;
    traced?.(where, ms);
    const problem = runner.check(result);
    if (checks.expect(problem === undefined, `${prefix} ${row.out.id} ${where}: ${problem}`))
      row.out.checksPassed++;
    else row.out.failures.push(`${where}: ${problem}`);
    return ms;
  };
  try {
    progress.step(`${prefix} starting ${rows.length} variants, warm-up:`);
    for (const row of rows) {
      row.runner = row.variant.open();
      const runner = row.runner;
      await (tracer === undefined ? runner.warm() : tracer.opened(row.out.id, () => runner.warm()));
    }
    if (plan.shm === undefined) {
      // Warm-up calls interleaved as the timed ones are: a settle() before each variant's warm-up
      // would trim the idle segments of the variants warmed before it, and their first timed call
      // would pay for fresh segments (64 MB of page faults for an image's strips).
      await settle();
      for (let i = 0; i < plan.warmupCalls; i++)
        for (const row of rows) await callChecked(row, `warm-up call ${i + 1}`);
    } else {
      // Each variant's warm-up alone, from a settled baseline, for its /dev/shm peak.
      for (const row of rows) {
        progress.update(`${row.out.id}…`);
        await settle();
        plan.shm.start();
        for (let i = 0; i < plan.warmupCalls; i++) await callChecked(row, `warm-up call ${i + 1}`);
        row.out.shmPeakMB = plan.shm.stop().addedPeakMB;
      }
    }
    progress.done(`${plan.warmupCalls} calls each`);
    progress.step(`${prefix} ${plan.rounds} rounds:`);
    for (let round = 0; round < plan.rounds; round++) {
      progress.update(`${round + 1}/${plan.rounds}`);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[(i + round) % rows.length]!;
        if (plan.collectBetween === true) {
          gc();
          await sleep(5);
          if (plan.pairCalls === true) await callChecked(row, `round ${round + 1}, untimed call before`);
        }
        row.out.samplesMs.push(await callChecked(row, `round ${round + 1}`));
      }
    }
    for (const row of rows) if (row.out.samplesMs.length > 0) row.out.steady = summarize(row.out.samplesMs);
    progress.done(
      rows.map((r) => `${r.out.id} ${r.out.steady ? fmtMs(r.out.steady.median) : '–'} ms`).join(', '),
    );
  } catch (error) {
    const message = `threw: ${(error as Error)?.stack ?? String(error)}`;
    checks.expect(false, `${prefix}: ${message}`);
    for (const row of rows) if (row.out.samplesMs.length === 0) row.out.failures.push(message);
  } finally {
    tracer?.close();
    plan.shm?.cancel();
    await Promise.all(rows.map((r) => r.runner?.close().catch(() => {})));
    await settle();
  }
  return rows.map((r) => r.out);
}
