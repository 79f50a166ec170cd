// Measuring one variant: its cold first call on a fresh pool, then, on
// another fresh pool started before the baseline, a memory pass (the first
// calls, sampled for the peak memory of the process tree) and a timed pass
// (back-to-back calls, no sampler running). Every result is checked.
import { trimSharedMemory } from 'shmex';
import type { Checks } from './check.js';
import { gc, sleep } from './gc.js';
import type { MemoryPeak, MemorySampler } from './memory.js';
import { fmtMs, progress } from './progress.js';
import { type Summary, summarize } from './stats.js';

export interface Runner<R = unknown> {
  /** Starts every worker of the pool (not done before the cold call, which includes the spawn). */
  warm(): Promise<void>;
  /** One call; the time until it resolves is what is measured. */
  call(): Promise<R>;
  /** Checks one result outside the timing: undefined if right, else what is wrong. May release it. */
  check(result: R): string | undefined;
  close(): Promise<void>;
}

export interface Variant {
  id: string;
  label: string;
  note?: string;
  open(): Runner<any>;
}

export interface Plan {
  /** Calls before the timed ones: the warm-up, sampled for peak memory when a sampler is given. */
  warmupCalls: number;
  timedCalls: number;
  /** Measure the cold first call (a fresh pool, spawn included). */
  cold: boolean;
  /** Sample memory during the memory pass. */
  sampler: MemorySampler | undefined;
}

export interface VariantResult {
  id: string;
  label: string;
  note?: string;
  coldMs?: number;
  steady?: Summary;
  samplesMs: number[];
  memory?: MemoryPeak;
  checksPassed: number;
  failures: string[];
}

/** gc, give idle segments back, and give exiting processes and 'free' messages a moment. */
export async function settle(): Promise<void> {
  gc();
  await sleep(30);
  gc();
  trimSharedMemory();
  await sleep(30);
}

/**
 * One call, timed, and its result checked; returns the time only. The result
 * dies with this function's frame: a loop that kept it in its own variable
 * would hold each result through the next call (a suspended async function
 * keeps the registers of its last iteration), and every row's added peak
 * memory would count one dead result more.
 */
async function timedAndChecked<R>(
  runner: Runner<R>,
  check: (result: R, where: string) => void,
  where: string,
): Promise<number> {
  const t0 = performance.now();
  const result = await runner.call();
  const ms = performance.now() - t0;
  check(result, where);
  return ms;
}

export async function measureVariant(
  prefix: string,
  variant: Variant,
  plan: Plan,
  checks: Checks,
): Promise<VariantResult> {
  const out: VariantResult = {
    id: variant.id,
    label: variant.label,
    ...(variant.note === undefined ? {} : { note: variant.note }),
    samplesMs: [],
    checksPassed: 0,
    failures: [],
  };
  const check = (result: unknown, runner: Runner<unknown>, where: string) => {
    const problem = runner.check(result);
    const ok = checks.expect(problem === undefined, `${prefix} ${variant.id} ${where}: ${problem}`);
    if (ok) out.checksPassed++;
    else out.failures.push(`${where}: ${problem}`);
  };
  progress.step(`${prefix} ${variant.label}:`);
  let runner: Runner<unknown> | undefined;
  try {
    if (plan.cold) {
      progress.update('cold call…');
      await settle();
      // The pool is made inside the timing: a fresh pool's first call includes starting its workers.
      const t0 = performance.now();
      runner = variant.open();
      const result = await runner.call();
      out.coldMs = performance.now() - t0;
      check(result, runner, 'cold call');
      await runner.close();
      runner = undefined;
    }
    runner = variant.open();
    await runner.warm();
    await settle();
    plan.sampler?.start();
    const checkOf = (r: Runner<unknown>) => (result: unknown, where: string) => check(result, r, where);
    for (let i = 0; i < plan.warmupCalls; i++) {
      progress.update(`${plan.sampler ? 'warm-up + memory' : 'warm-up'} ${i + 1}/${plan.warmupCalls}`);
      await timedAndChecked(runner, checkOf(runner), `warm-up call ${i + 1}`);
    }
    if (plan.sampler !== undefined) out.memory = plan.sampler.stop();
    for (let i = 0; i < plan.timedCalls; i++) {
      progress.update(`timed ${i + 1}/${plan.timedCalls}`);
      out.samplesMs.push(await timedAndChecked(runner, checkOf(runner), `timed call ${i + 1}`));
    }
    out.steady = summarize(out.samplesMs);
  } catch (error) {
    const message = `threw: ${(error as Error)?.stack ?? String(error)}`;
    checks.expect(false, `${prefix} ${variant.id}: ${message}`);
    out.failures.push(message);
  } finally {
    plan.sampler?.cancel();
    await runner?.close().catch(() => {});
    await settle();
  }
  const parts = [
    out.coldMs === undefined ? '' : `cold ${fmtMs(out.coldMs)} ms`,
    out.steady === undefined ? '' : `median ${fmtMs(out.steady.median)} ms (${out.steady.n} runs)`,
    out.memory === undefined ? '' : `+${out.memory.addedPeakMB.toFixed(0)} MB peak`,
    out.failures.length === 0 ? `${out.checksPassed} checks ok` : `${out.failures.length} FAILED`,
  ];
  progress.done(parts.filter((p) => p !== '').join(' · '));
  return out;
}
