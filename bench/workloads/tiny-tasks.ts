// Workload (c): many tiny tasks (a Float64Array of 1e3, the task returns its
// sum) on pools of 2 workers. Throughput: all tasks submitted at once and
// awaited together. Latency: one task at a time, each awaited before the next.
// Peers are interleaved: every round runs each of them, in a rotated order.
// The raw-pipe row is the floor: binary frames over plain pipes, nothing else.
//
// Between the throughput and the latency runs, settle() forces full
// collections in this process. A forced collection does not keep the maps
// that optimized code depends on (an ordinary one does, for a few
// collections): every function whose objects were all dropped (a pool's
// frames, futures, encoders, Node's own microtask resources) is deoptimized
// and tiers up again over the next few thousand calls. That costs a pool in
// proportion to the JavaScript it runs in this process, not its steady
// speed, so every peer gets the same untimed runs of `count` tasks right
// before each of its timed runs (REWARM_BURSTS bursts before a throughput
// run, one sequential run before a latency run); the first of them is timed
// too and reported apart (`afterGc`), as what the first tasks after such a
// collection cost.
//
// The section runs in a node process of its own (runTinyTasksAlone), as a
// program that starts and submits tiny tasks would. Run after section (a) in
// the benchmark's process (BENCH_TINY_IN_PROCESS=1), shmex measured 0.61-0.80x
// the floor in four runs of five (1.06x in the fifth; alone 0.96-1.10x in
// runs of 15 rounds), and in a pair of runs of 15 rounds its side took 38%
// more CPU per burst (13 -> 18 ms per 2000 tasks, medians) and the floor's
// 23% less (13 -> 10 ms). No forced collection (shmex's rule for dropped
// results) fell in any of its bursts, the young generation was the same size,
// and the external memory left by (a) was gone after the first settle(). A
// program that only moved big arrays through shmex before its tiny tasks
// shows no such shift (bench/scripts/tiny-cpu.mjs with +big: parent CPU per
// task 8.2 -> 8.4 µs, floor 6.7 -> 7.1 µs), so it is what the benchmark's
// own process carries from (a), not what a user of either gets.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ThreadPoolExecutor } from 'shmex';
import { BurstTrace } from '../lib/burst-trace.js';
import type { Checks } from '../lib/check.js';
import { settle } from '../lib/measure.js';
import { fmtMs, progress } from '../lib/progress.js';
import { type Summary, summarize } from '../lib/stats.js';
import { ForkPool } from '../peers/fork.js';
import { PipePool } from '../peers/pipe.js';
import { PiscinaPool } from '../peers/piscina.js';
import { ShmexPool } from '../peers/shmex.js';
import { TinypoolPool } from '../peers/tinypool.js';
import type { PeerPool } from '../peers/types.js';
import { WorkerpoolPool } from '../peers/workerpool.js';

export const TINY_ELEMENTS = 1000;
/**
 * Untimed bursts before each timed throughput run. Measured on shmex's parent
 * (CPU per task over consecutive bursts of 2000 after forced collections:
 * 60-65, 20-30, 20-30, then 10-20 µs): the third burst is about steady.
 */
const REWARM_BURSTS = 3;
export const TINY_PEERS = [
  'shmex',
  'shmex-threads',
  'piscina',
  'tinypool',
  'workerpool-process',
  'fork-advanced',
  'raw-pipe',
] as const;

const LABELS: Record<(typeof TINY_PEERS)[number], string> = {
  shmex: 'shmex (arrays below the threshold travel inline)',
  'shmex-threads': 'shmex ThreadPoolExecutor (worker threads)',
  piscina: 'piscina (worker threads)',
  tinypool: 'tinypool (worker threads)',
  'workerpool-process': "workerpool, process mode (serialization: 'advanced')",
  'fork-advanced': "child_process.fork, 2 children, id-tagged ('advanced')",
  'raw-pipe': 'raw-pipe floor: 2 node children, binary frames over stdin/stdout, no serialization',
};

export interface TinyPeerResult {
  id: string;
  label: string;
  /** Tasks per second of each round. */
  throughputPerRound: number[];
  throughput?: Summary;
  /** Median latency (µs) of each round. */
  latencyMedianPerRound: number[];
  latency?: Summary;
  /** The untimed burst right after settle()'s forced collections (see the top of this file), per round. */
  afterGc: {
    throughputPerRound: number[];
    latencyMedianPerRound: number[];
    throughput?: Summary;
    latency?: Summary;
  };
  /** Over every latency sample of every round (µs). */
  latencyAll?: { median: number; p10: number; p90: number; p99: number; n: number };
  checksPassed: number;
  failures: string[];
}

export interface TinyTasksResult {
  tasks: number;
  elements: number;
  workers: number;
  rounds: number;
  warmupTasks: number;
  peers: TinyPeerResult[];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * runTinyTasks in a fresh node process (tiny-child.ts, with this process's
 * execArgv: the TypeScript loader, a --cpu-prof), its checks counted here.
 */
export async function runTinyTasksAlone(
  prefix: string,
  count: number,
  rounds: number,
  warmupTasks: number,
  checks: Checks,
): Promise<TinyTasksResult | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'shmex-bench-tiny-'));
  const out = join(dir, 'result.json');
  try {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(new URL('./tiny-child.ts', import.meta.url)),
        prefix,
        String(count),
        String(rounds),
        String(warmupTasks),
        out,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (!checks.expect(code === 0, `${prefix} its process exited with code ${code}`)) return undefined;
    const { result, passed, failures } = JSON.parse(readFileSync(out, 'utf8')) as {
      result: TinyTasksResult;
      passed: number;
      failures: string[];
    };
    checks.passed += passed;
    checks.failures.push(...failures);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runTinyTasks(
  prefix: string,
  count: number,
  rounds: number,
  warmupTasks: number,
  checks: Checks,
): Promise<TinyTasksResult> {
  const workers = 2;
  // x_k[j] = (j mod 1000) / 2 + k, so task k's sum is 249750 + 1000 k (exact), and a mix-up shows.
  const inputs = Array.from({ length: count }, (_, k) => {
    const x = new Float64Array(TINY_ELEMENTS);
    for (let j = 0; j < TINY_ELEMENTS; j++) x[j] = (j % 1000) / 2 + k;
    return x;
  });
  const expected = (k: number) => 249750 + 1000 * k;
  const makers: Record<(typeof TINY_PEERS)[number], () => PeerPool> = {
    shmex: () => new ShmexPool(workers),
    'shmex-threads': () => new ShmexPool(workers, ThreadPoolExecutor),
    piscina: () => new PiscinaPool(workers),
    tinypool: () => new TinypoolPool(workers),
    'workerpool-process': () => new WorkerpoolPool(workers),
    'fork-advanced': () => new ForkPool(workers),
    'raw-pipe': () => new PipePool(workers),
  };
  const peers = TINY_PEERS.map((id) => ({
    id,
    pool: makers[id](),
    result: {
      id,
      label: LABELS[id],
      throughputPerRound: [],
      latencyMedianPerRound: [],
      afterGc: { throughputPerRound: [], latencyMedianPerRound: [] },
      checksPassed: 0,
      failures: [],
    } as TinyPeerResult,
    latencies: [] as number[],
  }));

  const record = (peer: (typeof peers)[number], ok: boolean, what: string) => {
    if (checks.expect(ok, `${prefix} ${peer.id} ${what}`)) peer.result.checksPassed++;
    else peer.result.failures.push(what);
  };
  const checkAll = (peer: (typeof peers)[number], results: unknown[], where: string) => {
    let wrong = 0;
    let firstWrong = '';
    results.forEach((r, k) => {
      if (r !== expected(k)) {
        if (wrong++ === 0) firstWrong = `task ${k} returned ${String(r)}, expected ${expected(k)}`;
      }
    });
    record(peer, wrong === 0, `${where}: ${wrong} of ${results.length} results wrong (${firstWrong})`);
  };

  const trace = new BurstTrace(['shmex', 'raw-pipe']);
  const throughputRun = (peer: (typeof peers)[number], tasks: number, where = 'warm-up'): Promise<number> =>
    trace.burst(peer.id, where, async () => {
      const t0 = performance.now();
      const results = await Promise.all(inputs.slice(0, tasks).map((x) => peer.pool.run('sum', x)));
      const ms = performance.now() - t0;
      checkAll(peer, results, 'throughput run');
      return ms;
    });
  const latencyRun = async (peer: (typeof peers)[number], tasks: number): Promise<number[]> => {
    const times: number[] = [];
    const results: unknown[] = [];
    for (let k = 0; k < tasks; k++) {
      const t0 = performance.now();
      results.push(await peer.pool.run('sum', inputs[k]!));
      times.push((performance.now() - t0) * 1000);
    }
    checkAll(peer, results, 'latency run');
    return times;
  };

  try {
    progress.step(`${prefix} starting ${peers.length} pools of ${workers} workers, warm-up:`);
    await trace.warm(
      prefix,
      peers.map((p) => ({ id: p.id, warm: () => p.pool.warm() })),
    );
    for (const peer of peers) {
      progress.update(`${peer.id}…`);
      await throughputRun(peer, warmupTasks);
      await latencyRun(peer, warmupTasks);
    }
    progress.done(`${warmupTasks} tasks each, throughput and latency`);
    for (let round = 0; round < rounds; round++) {
      const order = peers.map((_, i) => peers[(i + round) % peers.length]!);
      progress.step(`${prefix} round ${round + 1}/${rounds}:`);
      for (const peer of order) {
        progress.update(`throughput ${peer.id}`);
        const afterGc = await throughputRun(peer, count, `round ${round + 1} after gc`);
        peer.result.afterGc.throughputPerRound.push((count / afterGc) * 1000);
        for (let i = 1; i < REWARM_BURSTS; i++)
          await throughputRun(peer, count, `round ${round + 1} rewarm ${i}`);
        const ms = await throughputRun(peer, count, `round ${round + 1} timed`);
        peer.result.throughputPerRound.push((count / ms) * 1000);
      }
      await settle();
      for (const peer of order) {
        progress.update(`latency ${peer.id}`);
        peer.result.afterGc.latencyMedianPerRound.push(summarize(await latencyRun(peer, count)).median);
        const times = await latencyRun(peer, count);
        peer.latencies.push(...times);
        peer.result.latencyMedianPerRound.push(summarize(times).median);
      }
      await settle();
      progress.done(
        order
          .map(
            (p) =>
              `${p.id} ${p.result.throughputPerRound.at(-1)!.toFixed(0)}/s ${fmtMs(p.result.latencyMedianPerRound.at(-1)!)}µs`,
          )
          .join(', '),
      );
    }
  } catch (error) {
    checks.expect(false, `${prefix} threw: ${(error as Error)?.stack ?? String(error)}`);
  } finally {
    trace.close();
    await Promise.all(peers.map((p) => p.pool.close().catch(() => {})));
    await settle();
  }
  for (const peer of peers) {
    const r = peer.result;
    if (r.throughputPerRound.length > 0) r.throughput = summarize(r.throughputPerRound);
    if (r.latencyMedianPerRound.length > 0) r.latency = summarize(r.latencyMedianPerRound);
    const a = r.afterGc;
    if (a.throughputPerRound.length > 0) a.throughput = summarize(a.throughputPerRound);
    if (a.latencyMedianPerRound.length > 0) a.latency = summarize(a.latencyMedianPerRound);
    if (peer.latencies.length > 0) {
      const sorted = [...peer.latencies].sort((a, b) => a - b);
      r.latencyAll = {
        median: summarize(sorted).median,
        p10: quantile(sorted, 0.1),
        p90: quantile(sorted, 0.9),
        p99: quantile(sorted, 0.99),
        n: sorted.length,
      };
    }
  }
  return {
    tasks: count,
    elements: TINY_ELEMENTS,
    workers,
    rounds,
    warmupTasks,
    peers: peers.map((p) => p.result),
  };
}
