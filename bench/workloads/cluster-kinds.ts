// What a value of a class costs to cross machines, beside a bare array of the
// same bytes: a round trip (argument to a machine, the same value back) of n
// float64 as a Float64Array, a registered wrapper (Signal), a record array of
// one f8 field, and an Arrow table of one Float64 column, each crossing as
// blobs; and the same table inline in the job (threshold: Infinity), as values
// of classes crossed before they went through the codecs. Same run, rounds
// interleaved (the order rotates each round), 2 local machines of 1 pool
// process each, through a redis-server of its own. Standalone:
// npm run build && node --import tsx bench/workloads/cluster-kinds.ts [--quick]
import assert from 'node:assert/strict';
import { makeTable, type Table } from 'apache-arrow';
import { RecordArray } from 'shmex';
import { LocalCluster } from 'shmex/cluster';
import { redisAvailable, startRedis } from '../../test/helpers/redis-server.js';
import { type Summary, summarize } from '../lib/stats.js';

// Compiled by `npm run build`: the machines (plain node) import it too, to register Signal and Arrow.
const KINDS_URL = new URL('../../dist-test/fixtures/cluster-kind-tasks.js', import.meta.url);
const { Signal } = (await import(
  KINDS_URL.href
)) as typeof import('../../test/fixtures/cluster-kind-tasks.js');

const quick = process.argv.includes('--quick');
const N = quick ? 250_000 : 2_000_000;
const ROUNDS = quick ? 3 : 7;

const missing = redisAvailable();
if (missing !== undefined) throw new Error(`needs a redis-server: ${missing}`);
const redis = await startRedis();
const cluster = await LocalCluster.start({
  url: redis.url,
  machines: 2,
  maxWorkers: 1,
  imports: [KINDS_URL],
});
const ex = cluster.executor();
const inline = cluster.executor({ threshold: Number.POSITIVE_INFINITY });

const x = Float64Array.from({ length: N }, (_, i) => i);
const records = new RecordArray([['x', '<f8']], x.buffer.slice(0));
const table: Table = makeTable({ x });
const echo = (v: unknown) => v;
const first = (v: unknown): number => {
  if (v instanceof Float64Array) return v[N - 1]!;
  if (v instanceof Signal) return v.samples[N - 1]!;
  if (v instanceof RecordArray) return Number(v.getField(N - 1, 'x'));
  return Number((v as Table).getChild('x')!.get(N - 1));
};
const variants: [string, () => Promise<unknown>][] = [
  ['Float64Array (blob)', () => ex.submit(echo, x)],
  ['Signal wrapper (blob)', () => ex.submit(echo, new Signal(x, 1))],
  ['RecordArray (blob)', () => ex.submit(echo, records)],
  ['Arrow table (IPC blob)', () => ex.submit(echo, table)],
  ['Arrow table inline in the job', () => inline.submit(echo, table)],
];
const times = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (let round = -1; round < ROUNDS; round++) {
  for (let k = 0; k < variants.length; k++) {
    const [name, run] = variants[(k + Math.max(round, 0)) % variants.length]!;
    const t0 = performance.now();
    const back = await run();
    const ms = performance.now() - t0;
    assert.equal(first(back), N - 1, `${name} came back wrong`);
    if (round >= 0) times.get(name)!.push(ms); // round -1 warms up
  }
}
await ex.shutdown();
await inline.shutdown();
await cluster.close();
await redis.stop();

const m = (s: Summary) => `${s.median.toFixed(0)} (${s.min.toFixed(0)}-${s.max.toFixed(0)})`;
const base = summarize(times.get(variants[0]![0])!).median;
console.log(`${(N * 8) / 1e6} MB round trip through 2 local machines, ms, median (min-max) of ${ROUNDS}:`);
for (const [name] of variants) {
  const s = summarize(times.get(name)!);
  console.log(`  ${name.padEnd(32)} ${m(s).padEnd(18)} x${(s.median / base).toFixed(2)}`);
}
