// The benchmark suite: `npm run bench` (full, writes bench/results.{md,json,svg})
// or `npm run bench -- --quick` (a smoke run, writes bench/results-quick.*).
// Exits non-zero if any result check fails or a shmex segment is left behind.
//
// Flags (combinable):
//   --quick            small sizes and few repetitions (under a minute)
//   --only LIST        run only these sections, comma-separated, in the suite's order:
//                        a          (a) addOne on 160 MB (2e6 elements with --quick)
//                        b          (b) addOne on 16 MB
//                        tiny | c   (c) tiny tasks: throughput and latency, with the raw-pipe floor, in a
//                                   node process of its own (BENCH_TINY_ROUNDS: rounds, 15 by default;
//                                   BENCH_TINY_IN_PROCESS=1: in the benchmark's process, after the others)
//                        compute | d  (d) compute-bound kernel in 2 halves
//                        views | e  (e) a 10-element subarray vs slice of a 160 MB array, argument and result
//                        reduction | f  (f) sum in 8 subarray chunks through ex.map, heap and from() input
//                        strips | g (g) grayscale + 3x3 blur of a 4000x4000 RGBA image in 16 strips
//                                   (interleaved, a garbage collection before each timed call)
//                        burst | h  (h) 30 x submit(sum, 80 MB) in a loop: event-loop blocking, /dev/shm peak
//                        cluster | i  (i) ClusterExecutor on 2 local machines through a redis-server of its
//                                   own: 160 MB round trip and tiny tasks (skipped, with a note in the
//                                   report, when redis-server is not installed)
//                      A run with --only writes bench/results-only-<list>[-quick].{md,json}, so the
//                      full report is never overwritten by a partial one.
// Examples: npm run bench -- --only strips --quick;  npm run bench -- --only=a,views
// BENCH_TRACE=1 npm run bench -- --only strips: one line per interleaved call on stderr (CPU and
// faults of this process, of the row's workers and of the other rows', garbage collections
// inside the call; bench/lib/call-trace.ts); for (c), one line per burst of shmex and every
// peer, this process's collections by kind in it, and its state when the section starts.
// BENCH_TINY_PROFILE=dir: a CPU profile of (c)'s process during each burst of shmex and of the floor.
import { statfsSync } from 'node:fs';
import { listSegmentNames, trimSharedMemory } from 'shmex';
import { redisAvailable } from '../test/helpers/redis-server.js';
import { Checks } from './lib/check.js';
import { CpuWatch } from './lib/cpu.js';
import { leftoverSegments } from './lib/leftovers.js';
import { loadAverage, machineInfo } from './lib/machine.js';
import { settle } from './lib/measure.js';
import { MemorySampler } from './lib/memory.js';
import { benchConfig, parseOptions } from './lib/options.js';
import { progress } from './lib/progress.js';
import { type Results, writeReport } from './lib/report.js';
import { ShmPeakSampler } from './lib/shm-peak.js';
import { runBigArrays, WORKERS } from './workloads/big-arrays.js';
import { runCompute } from './workloads/compute.js';
import { runReduction } from './workloads/reduction.js';
import { runReleaseLoops } from './workloads/release-loop.js';
import { runStrips } from './workloads/strips.js';
import { runSubmitBurst } from './workloads/submit-burst.js';
import { runTinyTasks, runTinyTasksAlone } from './workloads/tiny-tasks.js';
import { runViews } from './workloads/views.js';

const options = (() => {
  try {
    return parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
})();
const quick = options.quick;
const CONFIG = benchConfig(quick);

const NOTES = [
  `Every runner executes the same functions, imported from bench/workers/tasks.mjs (shmex loads them as a module task, the peers as their worker file, the fork child imports them). Pools have ${WORKERS} workers; no worker gets a TypeScript loader (execArgv: []).`,
  'Every result is checked outside the timing (length, first and last element, exact sum of all elements; the input unchanged where it is passed by value); a failed check makes the run exit non-zero.',
  '*Cold first call*: a fresh pool is made inside the timing and its first call awaited (starting the workers, loading the task module, first page faults). For in-process rows it is the first call in that workload.',
  "*Steady*: another fresh pool, its workers started (a no-op on each) before the memory baseline; then the warm-up calls (memory sampled), then the timed calls back to back (no sampler running); median with min–max. Results are dropped after their check (no release()) except in the release() loop. Each call and its check run in a function of their own, so a result is dead when the next call starts; the release() loop keeps each result in its loop variable as a user would, and a suspended async function keeps that variable through the next call (its 'results dropped' row holds one dead result more).",
  'Big-array variants run one block after another, not interleaved call by call: shmex gives idle segments back after 2 s, so interleaving with peers that take a second per call would measure only its fresh-segment path, and each variant needs its own memory baseline. The in-process row is repeated at the end of each block as a drift check.',
  '*× in-process* divides by the faster of the two in-process blocks of the section (the first row and the drift-check row at the end), so a drifting baseline never flatters a row; *speedup* in (d) likewise.',
  '*Added peak memory*: sampled every ~10 ms by a worker thread during the warm-up calls: the sum over this process and all its descendants of (Pss − Pss_Shmem) from /proc/<pid>/smaps_rollup, plus the space used in /dev/shm (statfs), so each shared page counts once; peak minus the baseline taken just before the first warm-up call, with the pool idle. "× array" divides by the array size. Worker threads (piscina, tinypool) live in this process and are counted in it. Reading smaps_rollup costs about 5 ms per 160 MB mapped (the kernel walks the page tables), which is why the sampler does not run during the timed calls, and why with 160 MB arrays in flight the samples come every ~20–40 ms rather than 10 (meanIntervalMs in results.json).',
  'piscina transfer: transferring detaches the sender’s array, so each call copies x first (x.slice(), inside the timing) and transfers the copy; the result comes back with Piscina.move(). The caller keeps its x, as in every other row.',
  "workerpool process mode uses forkOpts { serialization: 'advanced' }: its default (JSON) would turn a Float64Array into an object with one key per element.",
  'shmex arguments below its threshold (64 KiB) travel inline in the message to the worker; larger ones through /dev/shm segments that are recycled while in use.',
];

/** Runs a section and notes how much CPU other processes took meanwhile. */
async function watched<T>(run: () => Promise<T>): Promise<T & { othersCpuPercent: number }> {
  const cpu = new CpuWatch();
  const result = await run();
  return { ...result, othersCpuPercent: cpu.othersPercent() };
}

async function main(): Promise<Results> {
  const startedAt = performance.now();
  const cpu = new CpuWatch();
  const before = new Set(listSegmentNames());
  const shm = statfsSync('/dev/shm');
  const results: Results = {
    mode: quick ? 'quick' : 'full',
    ...(options.only ? { sections: options.sections } : {}),
    ok: false,
    machine: machineInfo(shm.blocks * shm.bsize),
    durationS: 0,
    config: CONFIG,
    bigArrays: [],
    checks: { passed: 0, failed: 0, failures: [] },
    leftoverSegments: [],
    othersCpuPercent: 0,
    notes: NOTES,
  };
  const checks = new Checks();
  const sampler = new MemorySampler(10);
  progress.say(
    `shmex benchmark${quick ? ' (quick)' : ''}: ${results.machine.cores} cores, Node.js ${results.machine.node}`,
  );
  const shmPeak = new ShmPeakSampler();
  const run = new Set(options.sections);
  progress.plan(options.sections.length);
  try {
    for (const key of ['a', 'b'] as const) {
      if (!run.has(key)) continue;
      const size = CONFIG.bigArrays[key];
      const prefix = `${size.id} ${size.n.toExponential(0).replace('e+', 'e')}`;
      progress.section(`${size.id} addOne on ${size.n} float64 (${(size.n * 8) / 1e6} MB)`);
      const plan = {
        warmupCalls: size.warmupCalls,
        timedCalls: size.timedCalls,
        cold: true,
        sampler,
      };
      results.bigArrays.push(
        await watched(async () => ({
          id: size.id,
          ...(await runBigArrays(prefix, size.n, plan, checks)),
          releaseLoops: await runReleaseLoops(prefix, size.n, size.releaseIterations, sampler, checks),
        })),
      );
    }
    if (run.has('tiny')) {
      const tiny = CONFIG.tiny;
      progress.section(`(c) ${tiny.tasks} tiny tasks, ${tiny.rounds} rounds`);
      // In a process of its own: what earlier sections leave in this one is not what a user has.
      // BENCH_TINY_IN_PROCESS=1: in this process, as before (to study what earlier sections leave).
      const runTiny = process.env.BENCH_TINY_IN_PROCESS === '1' ? runTinyTasks : runTinyTasksAlone;
      const measured = await watched(async () => ({
        result: await runTiny('(c)', tiny.tasks, tiny.rounds, tiny.warmupTasks, checks),
      }));
      if (measured.result !== undefined)
        results.tinyTasks = { ...measured.result, othersCpuPercent: measured.othersCpuPercent };
    }
    if (run.has('compute')) {
      const compute = CONFIG.compute;
      progress.section(`(d) compute-bound kernel on ${compute.n} float64, 2 halves`);
      results.compute = await watched(() =>
        runCompute(
          '(d)',
          compute.n,
          {
            warmupCalls: compute.warmupCalls,
            timedCalls: compute.timedCalls,
            cold: false,
            sampler: undefined,
          },
          checks,
        ),
      );
    }
    if (run.has('views')) {
      const views = CONFIG.views;
      progress.section(`(e) 10-element views of ${views.n} float64, ${views.rounds} rounds`);
      results.views = await watched(() => runViews('(e)', views.n, views, checks));
    }
    if (run.has('reduction')) {
      const reduction = CONFIG.reduction;
      progress.section(`(f) sum of ${reduction.n} float64 in 8 chunks, ${reduction.rounds} rounds`);
      results.reduction = await watched(() =>
        runReduction('(f)', reduction.n, { ...reduction, shm: shmPeak }, checks),
      );
    }
    if (run.has('strips')) {
      const strips = CONFIG.strips;
      progress.section(
        `(g) ${strips.width}x${strips.height} RGBA image in 16 strips, ${strips.rounds} rounds`,
      );
      results.strips = await watched(() => runStrips('(g)', strips, strips, checks));
    }
    if (run.has('burst')) {
      const burst = CONFIG.burst;
      progress.section(`(h) ${burst.count} x submit of ${burst.n} float64, ${burst.rounds} rounds`);
      results.burst = await watched(() =>
        runSubmitBurst('(h)', burst.n, burst.count, burst.rounds, shmPeak, checks),
      );
    }
    if (run.has('cluster')) {
      progress.section('(i) cluster: ClusterExecutor on 2 local machines through Redis');
      const missing = redisAvailable();
      if (missing === undefined) {
        // Loaded only here: it needs the optional peers bullmq and ioredis.
        const { runCluster } = await import('./workloads/cluster.js');
        results.cluster = await watched(() => runCluster('(i)', CONFIG.cluster, checks));
      } else {
        results.cluster = { skipped: missing };
        progress.say(`(i) skipped: ${missing}`);
      }
    }
  } catch (error) {
    checks.expect(false, `the benchmark threw: ${(error as Error)?.stack ?? String(error)}`);
  } finally {
    await sampler.close();
    await shmPeak.close();
    await settle();
    trimSharedMemory();
  }
  results.leftoverSegments = await leftoverSegments(before);
  checks.expect(
    results.leftoverSegments.length === 0,
    `shmex segments left in /dev/shm: ${results.leftoverSegments.join(', ')}`,
  );
  results.checks = { passed: checks.passed, failed: checks.failed, failures: checks.failures };
  results.ok = checks.failed === 0;
  results.durationS = (performance.now() - startedAt) / 1000;
  results.machine.loadAverageAtEnd = loadAverage();
  results.othersCpuPercent = cpu.othersPercent();
  return results;
}

const results = await main();
const files = writeReport(results);
progress.say(
  `\n${results.ok ? 'OK' : 'FAILED'}: ${results.checks.passed} checks passed, ${results.checks.failed} failed, in ${results.durationS.toFixed(0)} s. Wrote ${files.md}, ${files.json}${files.svg ? ` and ${files.svg}` : ''}.`,
);
process.exitCode = results.ok ? 0 : 1;
