// fallbackDir: segments go to another directory when shmDir cannot be used
// (missing, not a directory, or nearly full as the executor starts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  configureSharedMemory,
  from,
  InvalidArgumentError,
  listSegmentNames,
  ProcessPoolExecutor,
  release,
  segmentPath,
  shared,
  trimSharedMemory,
  zeros,
} from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const root = mkdtempSync(join(tmpdir(), 'shmex-fallback-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function roundTripThrough(ex: ProcessPoolExecutor, dir: string): Promise<void> {
  const x = Float64Array.from({ length: 1 << 16 }, (_, i) => i);
  const y = (await ex.submit((a: Float64Array) => a.map((v) => v + 1), x)) as Float64Array;
  assert.equal(y[65535], 65536);
  assert.ok(listSegmentNames(dir).length > 0, `the result lives in a segment in ${dir}`);
  assert.equal(release(y), true);
}

test('a missing shmDir with a usable fallbackDir: arrays move through the fallback, which is left empty', async () => {
  const fallback = mkdtempSync(join(root, 'dir-'));
  {
    await using ex = new ProcessPoolExecutor({
      maxWorkers: 1,
      shmDir: join(root, 'does-not-exist'),
      fallbackDir: fallback,
    });
    assert.equal(ex.shmDir, fallback);
    await roundTripThrough(ex, fallback);
  }
  trimSharedMemory();
  assert.deepEqual(listSegmentNames(fallback), []);
});

test('a shmDir that is a file, not a directory, falls back too', async () => {
  const fallback = mkdtempSync(join(root, 'dir-'));
  const file = join(root, 'a-file');
  writeFileSync(file, '');
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, shmDir: file, fallbackDir: fallback });
  assert.equal(ex.shmDir, fallback);
  await roundTripThrough(ex, fallback);
});

test('a usable shmDir with room is kept; so is shmDir when the fallback is unusable too', async (t) => {
  const room = mkdtempSync(join(root, 'dir-'));
  const fs = statfsSync(room);
  if (fs.bavail * fs.bsize < 2 * 1024 ** 3) {
    t.skip(`${room} has less than 2 GiB free: it would count as nearly full`);
    return;
  }
  await using kept = new ProcessPoolExecutor({ maxWorkers: 1, shmDir: room, fallbackDir: join(root, 'x') });
  assert.equal(kept.shmDir, room);
  await using noFallback = new ProcessPoolExecutor({ maxWorkers: 1 });
  assert.equal(noFallback.shmDir, process.env.SHMEX_SHM_DIR, 'the default directory (this file has its own)');
  const missing = join(root, 'missing');
  await using bothBad = new ProcessPoolExecutor({
    maxWorkers: 1,
    shmDir: missing,
    fallbackDir: join(root, 'also-missing'),
  });
  assert.equal(bothBad.shmDir, missing);
});

test('shmDir and fallbackDir must be non-empty strings', () => {
  for (const options of [{ shmDir: '' }, { fallbackDir: 3 }, { fallbackDir: '' }]) {
    assert.throws(() => new ProcessPoolExecutor(options as never), InvalidArgumentError);
  }
});

test('empty/zeros/from in this process follow the latest executor not on /dev/shm, so they travel zero-copy and shared() works', async () => {
  const fallback = mkdtempSync(join(root, 'dir-'));
  await using ex = new ProcessPoolExecutor({
    maxWorkers: 1,
    shmDir: join(root, 'missing-again'),
    fallbackDir: fallback,
  });
  const x = from(Float64Array, [1, 2, 3]);
  assert.ok(segmentPath(x)?.startsWith(`${fallback}/`), 'from() made it in the executor directory');
  await ex.submit((a: Float64Array) => {
    a[0] = 10;
  }, shared(x));
  assert.equal(x[0], 10, 'the task wrote into the caller array');
  const other = mkdtempSync(join(root, 'dir-'));
  configureSharedMemory({ dir: other });
  const y = zeros(Float64Array, 4);
  assert.ok(segmentPath(y)?.startsWith(`${other}/`), 'configureSharedMemory({ dir }) chooses');
  assert.throws(() => configureSharedMemory({ dir: '' }), InvalidArgumentError);
  release(x);
  release(y);
  configureSharedMemory({ dir: process.env.SHMEX_SHM_DIR! });
});
