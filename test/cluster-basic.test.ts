// ClusterExecutor through LocalCluster: two `shmex worker` processes with
// shared-memory directories of their own act as machines, on a redis-server
// of this file's own. Tasks of every form, arrays both ways through Redis,
// put() and de-duplication within a map, errors, cancel, abort, timeout, an
// unreachable Redis, and `shmex cluster status`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AbortError,
  CancelledError,
  empty,
  inSharedMemory,
  NotTransferableError,
  shared,
  TaskTimeoutError,
} from 'shmex';
import { ClusterExecutor, ClusterValueError, RedisUnavailableError } from 'shmex/cluster';
import type * as Tasks from './fixtures/tasks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/tasks.js', import.meta.url);
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const local = useLocalCluster({ machines: 2, maxWorkers: 1 });
const { skip } = local;

async function inputBytes(): Promise<number> {
  return Number((await local.redis.info('stats')).total_net_input_bytes);
}

test('function, module and { module, name } tasks and map run on the machines', { skip }, async () => {
  await using ex = local.cluster.executor();
  assert.equal(await ex.submit((a: number, b: number) => a * b, 6, 7), 42);
  const tasks = ex.module<typeof Tasks>(TASKS);
  assert.deepEqual([...(await tasks.addOne(new Float64Array([1, 2])))], [2, 3]);
  assert.equal(await ex.submit({ module: TASKS.href, name: 'identity' }, 'x'), 'x');
  assert.equal(await ex.submit(tasks.identity, 'y'), 'y', 'a module proxy function passed to submit');
  const out: number[] = [];
  for await (const v of ex.map((a: number) => a * 10, [1, 2, 3, 4, 5], { chunksize: 2 })) out.push(v);
  assert.deepEqual(out, [10, 20, 30, 40, 50]);
  const pids = new Set(await Promise.all(Array.from({ length: 8 }, () => tasks.sleep(50))));
  assert.ok(pids.size >= 1);
});

test('large arrays cross through Redis as blobs and land in shared memory; small ones inline', {
  skip,
}, async () => {
  await using ex = local.cluster.executor();
  const n = 1 << 20; // 8 MiB of float64: over the inline threshold, one chunk and a bit
  const x = Float64Array.from({ length: n + 5 }, (_, i) => i);
  const before = await inputBytes();
  const y = (await ex.submit((a: Float64Array) => {
    a[0] = -1;
    return a.map((v) => v * 2);
  }, x)) as Float64Array;
  const grown = (await inputBytes()) - before;
  assert.ok(grown >= 2 * x.byteLength, `Redis received ${grown} bytes, at least the argument and the result`);
  assert.equal(x[0], 0, 'the caller array is unchanged');
  assert.ok(y instanceof Float64Array);
  assert.equal(y.length, n + 5);
  assert.equal(y[0], -2);
  assert.equal(y[n + 4], (n + 4) * 2);
  assert.ok(inSharedMemory(y), 'the result arrived in this process shared memory');
  for (const m of local.cluster.machines) assert.ok(!m.shmDir.startsWith(process.env.SHMEX_SHM_DIR ?? '\0'));
  // Every kind that travels: typed arrays of each type, Buffer, DataView, ArrayBuffer, in containers.
  const big = 256 * 1024;
  const value = {
    i8: new Int8Array(big).fill(-3),
    u64: new BigUint64Array(big / 8).fill(7n),
    buf: Buffer.alloc(big, 9),
    view: new DataView(new ArrayBuffer(big)),
    ab: new ArrayBuffer(big),
    map: new Map([['f32', new Float32Array(big / 4).fill(1.5)]]),
    small: new Uint16Array([1, 2, 3]),
    shm: empty(Int32Array, big / 4).fill(4),
  };
  const back = (await ex.submit((v: unknown) => v, value)) as typeof value;
  assert.ok(back.i8 instanceof Int8Array && back.i8[big - 1] === -3);
  assert.ok(back.u64 instanceof BigUint64Array && back.u64[0] === 7n);
  assert.ok(Buffer.isBuffer(back.buf) && back.buf[big - 1] === 9);
  assert.ok(back.view instanceof DataView && back.view.byteLength === big);
  assert.ok(back.ab instanceof ArrayBuffer && back.ab.byteLength === big);
  assert.equal(back.map.get('f32')?.[3], 1.5);
  assert.deepEqual([...back.small], [1, 2, 3]);
  assert.equal(back.shm[0], 4);
  assert.ok(back.shm instanceof Int32Array);
});

test('put() uploads once for many tasks; an array repeated in one map is uploaded once', {
  skip,
}, async () => {
  await using ex = local.cluster.executor();
  const x = new Float64Array(1 << 20).fill(2);
  let before = await inputBytes();
  const ref = await ex.put(x);
  const sums = await Promise.all(
    Array.from({ length: 4 }, () => ex.submit((a: Float64Array) => a.reduce((s, v) => s + v, 0), ref)),
  );
  assert.deepEqual(sums, [2 * x.length, 2 * x.length, 2 * x.length, 2 * x.length]);
  let grown = (await inputBytes()) - before;
  assert.ok(grown < 2 * x.byteLength, `Redis received ${grown} bytes for one upload of ${x.byteLength}`);
  await ex.free(ref);
  await assert.rejects(
    ex.submit((a: Float64Array) => a.length, ref),
    ClusterValueError,
  );
  before = await inputBytes();
  const lengths: number[] = [];
  for await (const n of ex.map((a: Float64Array, i: number) => a.length + i, [x, x, x, x], [0, 1, 2, 3])) {
    lengths.push(n);
  }
  assert.deepEqual(lengths, [x.length, x.length + 1, x.length + 2, x.length + 3]);
  grown = (await inputBytes()) - before;
  assert.ok(grown < 2 * x.byteLength, `Redis received ${grown} bytes for a map over one array`);
});

test('a task error arrives with its class, fields and remote stack naming the machine; not retried', {
  skip,
}, async () => {
  await using ex = local.cluster.executor();
  const tasks = ex.module<typeof Tasks>(TASKS);
  const error = (await tasks.fail('broken').exception()) as RangeError & { code: string; detail: unknown };
  assert.ok(error instanceof RangeError);
  assert.equal(error.message, 'broken');
  assert.equal(error.code, 'E_TASK');
  assert.deepEqual(error.detail, { n: 1 });
  assert.match(String(error.stack), /at <machine .*-m\d>/);
  assert.equal(error.cause?.constructor.name, 'RemoteStack');
  assert.equal(ex.stats().failedTasks, 1);
});

test('values that cannot cross machines are refused at submit', { skip }, async () => {
  await using ex = local.cluster.executor();
  const inShm = empty(Float64Array, 4);
  await assert.rejects(
    ex.submit((a: Float64Array) => a, shared(inShm)),
    (e: unknown) => {
      assert.ok(e instanceof ClusterValueError);
      assert.equal(e.code, 'ERR_SHMEX_CLUSTER_VALUE');
      assert.match(e.message, /shared\(\).*cannot reach another machine/);
      return true;
    },
  );
  await assert.rejects(
    ex.submit(
      (f: unknown) => f,
      () => 1,
    ),
    NotTransferableError,
  );
});

test('cancel() removes a queued task; a running one cannot be cancelled', { skip }, async () => {
  await using ex = local.cluster.executor();
  const tasks = ex.module<typeof Tasks>(TASKS);
  // Each machine takes two jobs at once: six long tasks leave two queued.
  const running = Array.from({ length: 6 }, () => tasks.sleep(1500));
  const last = tasks.sleep(1500);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(last.cancel(), true);
  assert.ok(last.cancelled());
  await assert.rejects(last, CancelledError);
  await Promise.all(running);
  assert.equal(ex.stats().cancelledTasks, 1);
});

test('abort and timeout stop running remote tasks', { skip }, async () => {
  await using ex = local.cluster.executor();
  const tasks = ex.withOptions({ timeout: 300 }).module<typeof Tasks>(TASKS);
  await assert.rejects(tasks.sleep(20_000), TaskTimeoutError);
  const controller = new AbortController();
  const f = ex
    .withOptions({ signal: controller.signal })
    .submit(() => new Promise<number>((r) => setTimeout(() => r(1), 20_000)));
  while (!f.running()) await new Promise((r) => setTimeout(r, 20));
  controller.abort(new Error('enough'));
  await assert.rejects(f, AbortError);
  // The machines are free again.
  assert.equal(await ex.submit(() => 'after'), 'after');
});

test('withOptions nests on the cluster: the inner timeout wins for submit and map', { skip }, async () => {
  await using ex = local.cluster.executor();
  const quick = ex.withOptions({ timeout: 60_000 }).withOptions({ timeout: 300 });
  await assert.rejects(quick.module<typeof Tasks>(TASKS).sleep(20_000), TaskTimeoutError);
  const results = quick.map((ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)), [1, 20_000]);
  const seen: unknown[] = [];
  await assert.rejects(async () => {
    for await (const value of results) seen.push(value);
  }, TaskTimeoutError);
  assert.deepEqual(seen, [1]);
});

test('an unreachable Redis rejects the Future instead of hanging', async () => {
  const ex = new ClusterExecutor({ url: 'redis://127.0.0.1:1', redisTimeout: 300 });
  await assert.rejects(
    ex.submit(() => 1),
    RedisUnavailableError,
  );
  await ex.shutdown();
});

test('shmex cluster status lists the machines and the queue', { skip }, async () => {
  const out = execFileSync(
    process.execPath,
    [CLI, 'cluster', 'status', '--connect', local.redis.url, '--queue', local.cluster.queue, '--json'],
    {
      encoding: 'utf8',
    },
  );
  const status = JSON.parse(out) as { machines: { name: string }[]; jobs: Record<string, number> };
  assert.deepEqual(
    status.machines.map((m) => m.name),
    local.cluster.machines.map((m) => m.name),
  );
  assert.equal(typeof status.jobs.waiting, 'number');
});
