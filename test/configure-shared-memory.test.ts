import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { configureSharedMemory, empty, InvalidArgumentError, listSegmentNames, release } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();
after(() => configureSharedMemory({ idleTrimMs: 2000, maxIdleBytes: 2 ** 31 }));

const mine = () => listSegmentNames().filter((name) => name.startsWith(`shmex.${process.pid}.`));

test('maxIdleBytes 0: a released array unlinks its segment at once', () => {
  configureSharedMemory({ maxIdleBytes: 0 });
  const before = mine().length;
  const a = empty(Float64Array, 1 << 16);
  assert.equal(mine().length, before + 1);
  assert.equal(release(a), true);
  assert.equal(mine().length, before);
});

test('idleTrimMs: free segments go after that long idle, kept until then for reuse', async () => {
  configureSharedMemory({ maxIdleBytes: 2 ** 31, idleTrimMs: 100 });
  const before = mine().length;
  const a = empty(Float64Array, 1 << 16);
  release(a);
  assert.equal(mine().length, before + 1, 'kept for reuse');
  const b = empty(Float64Array, 1 << 16); // the same size class: the same segment
  assert.equal(mine().length, before + 1);
  release(b);
  const deadline = Date.now() + 10_000;
  while (mine().length > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(mine().length, before);
});

test('bad options are rejected', () => {
  assert.throws(() => configureSharedMemory({ idleTrimMs: -1 }), InvalidArgumentError);
  assert.throws(() => configureSharedMemory({ maxIdleBytes: Number.NaN }), InvalidArgumentError);
});
