// Arrow tables, record arrays and array wrapper instances cross machines as
// they cross processes: their class and fields are rebuilt on the machine
// (an argument) and in the submitter (a result), their large arrays travel
// as blobs (Redis receives at least their bytes) and small ones inline. A
// machine that has not registered a class says so, naming itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Table } from 'apache-arrow';
import { inSharedMemory, RecordArray, registerArrayWrapper } from 'shmex';
import { MachineRegistrationError } from 'shmex/cluster';
import * as kinds from './fixtures/cluster-kind-tasks.js';
import type * as TransferTasks from './fixtures/transfer-tasks.js';
import { leftoverKeys } from './helpers/cluster-checks.js';
import { useLocalCluster } from './helpers/local-cluster.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const TASKS = new URL('./fixtures/cluster-kind-tasks.js', import.meta.url);
const TRANSFER = new URL('./fixtures/transfer-tasks.js', import.meta.url);
/** Rows of a large value: 3 MB and more in every kind, far above the 128 KiB threshold. */
const LARGE = 250_000;
/** Rows of a small one: a few KiB. */
const SMALL = 100;

const local = useLocalCluster({ machines: 2, maxWorkers: 1, imports: [TASKS.href] });
const { skip } = local;

async function inputBytes(): Promise<number> {
  return Number((await local.redis.info('stats')).total_net_input_bytes);
}

/** The bytes of a value's arrays. */
function arrayBytes(value: unknown): number {
  if (value instanceof kinds.Signal) return value.samples.byteLength;
  if (value instanceof RecordArray) return value.byteLength;
  return (value as Table).batches.reduce((n, b) => n + b.data.byteLength, 0);
}

/** Every number a value holds, in order, and its other fields: compared exactly. */
function contents(value: unknown): unknown {
  if (value instanceof kinds.Signal) return { samples: value.samples, rate: value.rate };
  if (value instanceof RecordArray) return { layout: value.layout.toSpec(), bytes: value.bytes() };
  const table = value as Table;
  return {
    fields: table.schema.fields.map((f) => `${f.name}:${f.type}`),
    x: table.getChild('x')!.toArray(),
    id: table.getChild('id')!.toArray(),
  };
}

const KINDS = ['table', 'records', 'signal'] as const;
const CLASS = { table: 'Table', records: 'RecordArray', signal: 'Signal' } as const;

for (const kind of KINDS) {
  for (const [size, rows] of [
    ['large', LARGE],
    ['small', SMALL],
  ] as const) {
    test(`a ${size} ${CLASS[kind]} crosses as an argument and as a result, class and values kept`, {
      skip,
    }, async () => {
      await using ex = local.cluster.executor();
      const tasks = ex.module<typeof kinds>(TASKS);
      const value = kinds.make(kind, rows);
      const bytes = arrayBytes(value);

      await tasks.kindOf(null); // BullMQ loads its scripts on a connection's first job: not counted
      const before = await inputBytes();
      const seen = await tasks.describe(value);
      const sent = (await inputBytes()) - before;
      assert.deepEqual(
        seen,
        { kind: CLASS[kind], digest: kinds.digest(value) },
        'the machine got another value',
      );

      const between = await inputBytes();
      const back = await tasks.make(kind, rows);
      const received = (await inputBytes()) - between;
      assert.equal(kinds.kindOf(back), CLASS[kind], 'the result lost its class');
      assert.deepEqual(contents(back), contents(value), 'the result differs');
      if (back instanceof kinds.Signal) {
        assert.equal(back.rate, 44_100);
        assert.equal(back.mean(), (value as kinds.Signal).mean(), 'its methods work on its fields');
      }
      if (size === 'large') {
        assert.ok(bytes >= 2_000_000);
        assert.ok(sent >= bytes, `Redis received ${sent} bytes for an argument of ${bytes}`);
        assert.ok(received >= bytes, `Redis received ${received} bytes for a result of ${bytes}`);
        // A blob lands in the submitter's shared memory, as a typed array does.
        const landed =
          back instanceof kinds.Signal
            ? back.samples
            : back instanceof RecordArray
              ? back.bytes()
              : ((back as Table).getChild('x')!.data[0]!.values as Float64Array);
        assert.ok(inSharedMemory(landed), 'the large result is not in shared memory');
      } else {
        // Inline in the job (a few KiB with the job's own data), and an ordinary array back.
        assert.ok(sent < 64 * 1024, `a small argument took ${sent} bytes`);
        assert.ok(received < 64 * 1024, `a small result took ${received} bytes`);
        if (back instanceof kinds.Signal) assert.ok(!inSharedMemory(back.samples));
      }
      await ex.shutdown();
      assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
    });
  }
}

test('wrappers and records nested in plain data, shared and pointing at each other, keep their identity', {
  skip,
}, async () => {
  await using ex = local.cluster.executor();
  const s = kinds.signal(LARGE);
  const r = kinds.records(SMALL);
  const value = { a: s, b: [s, r], m: new Map([['r', r]]) };
  const back = await ex.submit((v: typeof value) => v, value);
  assert.ok(back.a instanceof kinds.Signal);
  assert.equal(back.a, back.b[0], 'one instance became two');
  assert.equal(back.m.get('r'), back.b[1]);
  assert.deepEqual(kinds.digest(back.a), kinds.digest(s));
  assert.deepEqual(kinds.digest(back.b[1]), kinds.digest(r));

  // A wrapper whose own field refers back to it (its fields are given once it exists).
  const looped = Object.assign(kinds.signal(SMALL), { self: undefined as unknown });
  looped.self = looped;
  const again = await ex.submit((v: typeof looped) => v, looped);
  assert.ok(again instanceof kinds.Signal);
  assert.equal(again.self, again, 'the loop was not kept');
});

test('a table passed to every task of a map is uploaded once', { skip }, async () => {
  await using ex = local.cluster.executor();
  const tasks = ex.module<typeof kinds>(TASKS);
  const table = kinds.table(LARGE);
  const bytes = arrayBytes(table);
  await tasks.kindOf(null);
  const before = await inputBytes();
  const seen = await ex.map(tasks.describe, [table, table, table, table]).toArray();
  const sent = (await inputBytes()) - before;
  for (const one of seen) assert.deepEqual(one, { kind: 'Table', digest: kinds.digest(table) });
  assert.ok(sent >= bytes, `Redis received ${sent} bytes for a table of ${bytes}`);
  assert.ok(sent < 2 * bytes, `Redis received ${sent} bytes: the table was uploaded more than once`);
});

/** Registered in this process only: no machine can rebuild it. */
class SubmitterOnly {
  data: Float64Array;
  constructor(data: Float64Array) {
    this.data = data;
  }
}
registerArrayWrapper(SubmitterOnly, 'data');

test('a wrapper class a machine has not registered fails the task with an error naming the machine', {
  skip,
}, async () => {
  await using ex = local.cluster.executor();
  const names = local.cluster.machines.map((m) => m.name);
  for (const n of [SMALL, LARGE]) {
    const error = await ex
      .submit((v: unknown) => typeof v, new SubmitterOnly(new Float64Array(n)))
      .then(
        () => assert.fail('the task ran'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof MachineRegistrationError, String(error));
    assert.equal(error.code, 'ERR_SHMEX_MACHINE_UNREGISTERED');
    assert.ok(names.includes(error.machine), `${error.machine} is not a machine`);
    assert.match(error.message, /array wrapper 'SubmitterOnly'.*--import/);
  }
  // A result of a class registered in the pool processes only (the task module), not in the machine.
  const transfer = ex.module<typeof TransferTasks>(TRANSFER);
  await assert.rejects(transfer.makeGrid(4), (e: unknown) => {
    assert.ok(e instanceof MachineRegistrationError, String(e));
    assert.match(e.message, /array wrapper 'Grid'/);
    return true;
  });
  await ex.shutdown();
  assert.deepEqual(await leftoverKeys(local.redis.port, local.cluster.queue), []);
});

test('an instance of an unregistered class is refused at submit, as between processes', {
  skip,
}, async () => {
  await using ex = local.cluster.executor();
  class Unregistered {
    x = 1;
  }
  await assert.rejects(
    ex.submit((v: unknown) => v, new Unregistered()),
    {
      name: 'NotTransferableError',
      message: /class Unregistered/,
    },
  );
});
