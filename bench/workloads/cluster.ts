// The cluster section, on loopback, every variant in the same run, rounds
// interleaved: a redis-server of its own and a LocalCluster of 2 `shmex
// worker` machines (1 pool process each, separate shm directories, so
// arrays really cross through Redis).
// - big: the seed task (addOne on n float64) through ClusterExecutor, beside
//   the local ProcessPoolExecutor and beside the engine's floor, four raw
//   Redis transfers of the same bytes (upload args, download on the machine,
//   upload the result, download it): 2 x SET + 2 x GET.
// - tiny: a Float64Array of 1e3 summed, all submitted at once (throughput)
//   and one at a time (latency), beside BullMQ's throughput for empty jobs
//   (the engine's floor for tiny tasks) and the local pool.
// Targets: big within 1.5x of the raw floor; tiny throughput at least half
// of BullMQ's. Section (i) of `npm run bench` (--only cluster); standalone:
// node --import tsx bench/workloads/cluster.ts [--quick]
import { type ClusterExecutor, LocalCluster } from 'shmex/cluster';
import { redisAvailable, startRedis } from '../../test/helpers/redis-server.js';
import { addOneMismatch, type Checks, pattern, sumOf } from '../lib/check.js';
import { benchConfig } from '../lib/options.js';
import { progress } from '../lib/progress.js';
import { type Summary, summarize } from '../lib/stats.js';
import { ShmexPool } from '../peers/shmex.js';
import { TASKS_URL } from '../peers/types.js';
import type * as Tasks from '../workers/tasks.mjs';
import { bullFloor, rawSetGet } from './cluster-floors.js';

export interface ClusterConfig {
  /** float64 elements of the big round trip (2e7: 160 MB). */
  n: number;
  bigRounds: number;
  tinyTasks: number;
  latencyTasks: number;
  tinyRounds: number;
}

export interface ClusterResult {
  config: ClusterConfig;
  big: { rawFloorMs: Summary; rawSetMs: Summary; rawGetMs: Summary; clusterMs: Summary; localMs: Summary };
  tiny: {
    bullPerS: Summary;
    clusterPerS: Summary;
    localPerS: Summary;
    clusterLatencyUs: Summary;
    localLatencyUs: Summary;
  };
  /** Medians of the same run: cluster / raw floor (target <= 1.5), cluster / BullMQ (target >= 0.5). */
  bigVsFloor: number;
  tinyVsBull: number;
}

const WORKERS = 2;

async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await call();
  return { ms: performance.now() - t0, value };
}

export async function runCluster(
  prefix: string,
  config: ClusterConfig,
  checks: Checks,
): Promise<ClusterResult> {
  const missing = redisAvailable();
  if (missing !== undefined) throw new Error(`the cluster section needs its own redis-server: ${missing}`);
  const redis = await startRedis();
  const cluster = await LocalCluster.start({ url: redis.url, machines: WORKERS, maxWorkers: 1 });
  const ex: ClusterExecutor = cluster.executor({ maxWorkers: WORKERS });
  const remote = ex.module<typeof Tasks>(TASKS_URL);
  const local = new ShmexPool(WORKERS);
  const bull = await bullFloor(redis.url, `${cluster.queue}-empty`, 2 * WORKERS);
  const s = {
    raw: [] as number[],
    set: [] as number[],
    get: [] as number[],
    cluster: [] as number[],
    local: [] as number[],
  };
  const t = {
    bull: [] as number[],
    cluster: [] as number[],
    local: [] as number[],
    cLat: [] as number[],
    lLat: [] as number[],
  };
  try {
    const x = pattern(config.n);
    const sum = sumOf(x);
    const expected = { first: 1, last: ((config.n - 1) % 1000) / 2 + 1, sum: sum + config.n };
    const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    const check = (who: string, y: unknown) => {
      const wrong = addOneMismatch(y, config.n, expected);
      checks.expect(wrong === undefined, `${prefix} ${who} addOne: ${wrong}`);
    };
    progress.step(`${prefix} warm-up:`);
    await Promise.all([local.warm(), ...Array.from({ length: WORKERS }, () => remote.noop())]);
    check('cluster', await remote.addOne(x));
    check('local', await local.run('addOne', x));
    await rawSetGet(redis.url, bytes, 'warm');
    await bull.run(config.tinyTasks);
    progress.done('done');
    for (let round = 0; round < config.bigRounds; round++) {
      progress.step(`${prefix} ${(config.n * 8) / 1e6} MB round ${round + 1}/${config.bigRounds}:`);
      const raw = await rawSetGet(redis.url, bytes, String(round));
      s.set.push(raw.setMs);
      s.get.push(raw.getMs);
      s.raw.push(2 * raw.setMs + 2 * raw.getMs);
      const c = await timed(() => Promise.resolve(remote.addOne(x)));
      check('cluster', c.value);
      s.cluster.push(c.ms);
      const l = await timed(() => local.run('addOne', x));
      check('local', l.value);
      s.local.push(l.ms);
      progress.done(
        `raw x4 ${s.raw.at(-1)!.toFixed(0)} ms, cluster ${c.ms.toFixed(0)} ms, local ${l.ms.toFixed(0)} ms`,
      );
    }
    const inputs = Array.from({ length: config.tinyTasks }, (_, k) =>
      Float64Array.from({ length: 1000 }, (_, j) => j / 2 + k),
    );
    const want = (k: number) => 249750 + 1000 * k;
    const checkAll = (who: string, results: unknown[]) => {
      const wrong = results.findIndex((r, k) => r !== want(k));
      checks.expect(wrong < 0, `${prefix} ${who} tiny task ${wrong} returned ${String(results[wrong])}`);
    };
    const latency = async (who: string, run: (x: Float64Array) => Promise<unknown>) => {
      const times: number[] = [];
      const results: unknown[] = [];
      for (let k = 0; k < config.latencyTasks; k++) {
        const r = await timed(() => run(inputs[k]!));
        times.push(r.ms * 1000);
        results.push(r.value);
      }
      checkAll(`${who} latency`, results);
      return summarize(times).median;
    };
    for (let round = 0; round < config.tinyRounds; round++) {
      progress.step(`${prefix} ${config.tinyTasks} tiny tasks round ${round + 1}/${config.tinyRounds}:`);
      t.bull.push((config.tinyTasks / (await bull.run(config.tinyTasks))) * 1000);
      const c = await timed(() => Promise.all(inputs.map((v) => Promise.resolve(remote.sum(v)))));
      checkAll('cluster', c.value);
      t.cluster.push((config.tinyTasks / c.ms) * 1000);
      const l = await timed(() => Promise.all(inputs.map((v) => local.run('sum', v))));
      checkAll('local', l.value);
      t.local.push((config.tinyTasks / l.ms) * 1000);
      t.cLat.push(await latency('cluster', (v) => Promise.resolve(remote.sum(v))));
      t.lLat.push(await latency('local', (v) => local.run('sum', v)));
      progress.done(
        `BullMQ empty ${t.bull.at(-1)!.toFixed(0)}/s, cluster ${t.cluster.at(-1)!.toFixed(0)}/s ${t.cLat.at(-1)!.toFixed(0)} µs, local ${t.local.at(-1)!.toFixed(0)}/s ${t.lLat.at(-1)!.toFixed(0)} µs`,
      );
    }
  } finally {
    await bull.close().catch(() => {});
    await ex.shutdown().catch(() => {});
    await local.close().catch(() => {});
    await cluster.close();
    await redis.stop();
  }
  const big = {
    rawFloorMs: summarize(s.raw),
    rawSetMs: summarize(s.set),
    rawGetMs: summarize(s.get),
    clusterMs: summarize(s.cluster),
    localMs: summarize(s.local),
  };
  const tiny = {
    bullPerS: summarize(t.bull),
    clusterPerS: summarize(t.cluster),
    localPerS: summarize(t.local),
    clusterLatencyUs: summarize(t.cLat),
    localLatencyUs: summarize(t.lLat),
  };
  return {
    config,
    big,
    tiny,
    bigVsFloor: big.clusterMs.median / big.rawFloorMs.median,
    tinyVsBull: tiny.clusterPerS.median / tiny.bullPerS.median,
  };
}

const isMain =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  const { Checks } = await import('../lib/check.js');
  const checks = new Checks();
  const result = await runCluster('(i)', benchConfig(process.argv.includes('--quick')).cluster, checks);
  const m = (x: Summary, digits = 0) =>
    `${x.median.toFixed(digits)} (${x.min.toFixed(digits)}-${x.max.toFixed(digits)})`;
  const b = result.big;
  const y = result.tiny;
  console.log(
    `${(result.config.n * 8) / 1e6} MB addOne round trip, ms, median (min-max) of ${b.clusterMs.n}:`,
  );
  console.log(
    `  raw Redis floor (2 SET + 2 GET)  ${m(b.rawFloorMs)}   [SET ${m(b.rawSetMs)}, GET ${m(b.rawGetMs)}]`,
  );
  console.log(
    `  ClusterExecutor                  ${m(b.clusterMs)}   x${result.bigVsFloor.toFixed(2)} of the floor (target <= 1.5)`,
  );
  console.log(`  local ProcessPoolExecutor        ${m(b.localMs)}`);
  console.log(
    `tiny tasks (1e3 float64 summed), ${result.config.tinyTasks} at once, tasks/s; latency one at a time, µs:`,
  );
  console.log(`  BullMQ empty jobs                ${m(y.bullPerS)}/s`);
  console.log(
    `  ClusterExecutor                  ${m(y.clusterPerS)}/s   x${result.tinyVsBull.toFixed(2)} of BullMQ (target >= 0.5); latency ${m(y.clusterLatencyUs)} µs`,
  );
  console.log(`  local ProcessPoolExecutor        ${m(y.localPerS)}/s   latency ${m(y.localLatencyUs)} µs`);
  console.log(`${checks.passed} checks passed, ${checks.failed} failed`);
  process.exitCode = checks.failed === 0 ? 0 : 1;
}
