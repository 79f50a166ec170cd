// workerAllocator: worker processes start with GLIBC_TUNABLES that tune
// glibc's malloc ('tuned', the default), placed before the user's own; with
// 'default' they get the parent's environment as it is. Threads take only
// 'default'. Checked in real workers: the variable a task sees, and where
// glibc put a large block (in the heap when tuned, in a mapping of its own
// with glibc's defaults).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ProcessPoolExecutor, ThreadPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const saved = process.env.GLIBC_TUNABLES;
after(() => setTunables(saved));

function setTunables(value: string | undefined): void {
  if (value === undefined) delete process.env.GLIBC_TUNABLES;
  else process.env.GLIBC_TUNABLES = value;
}

const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
const glibc = report?.header?.glibcVersionRuntime !== undefined;

/** What a worker reports: its GLIBC_TUNABLES, and whether a 64 MiB block landed in its [heap]. */
function probe(): { tunables: string | undefined; heapHoldsBlock: boolean; block: number } {
  const block = new Float64Array(8 * 1024 * 1024); // 64 MiB: calloc'ed by V8, mmap'ed by default glibc
  block[block.length - 1] = 1;
  const fs = process.getBuiltinModule('node:fs');
  let heapBytes = 0;
  for (const line of fs.readFileSync('/proc/self/maps', 'latin1').split('\n')) {
    if (!line.endsWith('[heap]')) continue;
    const [from, to] = line.split(' ')[0]!.split('-');
    heapBytes += Number.parseInt(to!, 16) - Number.parseInt(from!, 16);
  }
  return {
    tunables: process.env.GLIBC_TUNABLES,
    heapHoldsBlock: heapBytes >= block.byteLength,
    block: block[block.length - 1]!,
  };
}

async function probeWith(options: { workerAllocator?: 'tuned' | 'default' }, tunables: string | undefined) {
  setTunables(tunables);
  try {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, ...options });
    return await ex.submit(probe);
  } finally {
    setTunables(saved);
  }
}

test('by default, a worker process starts with tuned malloc tunables, and glibc applies them', async () => {
  const seen = await probeWith({}, undefined);
  assert.match(seen.tunables ?? '', /^glibc\.malloc\.mmap_max=0:glibc\.malloc\.trim_threshold=\d+$/);
  if (glibc) assert.equal(seen.heapHoldsBlock, true, 'a 64 MiB block is served from the heap, not mapped');
});

test("the user's own GLIBC_TUNABLES are kept, after ours (glibc applies them in order, so theirs win)", async () => {
  const seen = await probeWith(
    { workerAllocator: 'tuned' },
    'glibc.malloc.arena_max=2:glibc.malloc.mmap_max=65536',
  );
  assert.match(
    seen.tunables ?? '',
    /^glibc\.malloc\.mmap_max=0:.*:glibc\.malloc\.arena_max=2:glibc\.malloc\.mmap_max=65536$/,
  );
  // Their mmap_max (glibc's default) overrides our mmap_max=0: the block is mapped on its own again.
  if (glibc) assert.equal(seen.heapHoldsBlock, false);
});

test("workerAllocator 'default' leaves the environment as it is", async () => {
  const none = await probeWith({ workerAllocator: 'default' }, undefined);
  assert.equal(none.tunables, undefined);
  if (glibc) assert.equal(none.heapHoldsBlock, false, "glibc's defaults map a 64 MiB block on its own");
  const own = await probeWith({ workerAllocator: 'default' }, 'glibc.malloc.arena_max=2');
  assert.equal(own.tunables, 'glibc.malloc.arena_max=2');
});

test('a replacement worker starts with the same environment', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1, maxTasksPerChild: 1 });
  const first = await ex.submit(() => [process.pid, process.env.GLIBC_TUNABLES] as const);
  const second = await ex.submit(() => [process.pid, process.env.GLIBC_TUNABLES] as const);
  assert.notEqual(first[0], second[0], 'maxTasksPerChild: 1 replaced the worker');
  assert.equal(second[1], first[1]);
  assert.match(second[1] ?? '', /mmap_max=0/);
});

test("threads take only 'default': they share this process's allocator", async () => {
  assert.throws(() => new ThreadPoolExecutor({ workerAllocator: 'tuned' }), {
    name: 'InvalidArgumentError',
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message: /workerAllocator must be 'default' for threads/,
  });
  await using ex = new ThreadPoolExecutor({ maxWorkers: 1, workerAllocator: 'default' });
  assert.equal(await ex.submit(() => process.env.GLIBC_TUNABLES), saved);
});

test('a wrong workerAllocator is refused with its type', () => {
  assert.throws(() => new ProcessPoolExecutor({ workerAllocator: 'jemalloc' as 'tuned' }), {
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message: /^ProcessPoolExecutor: workerAllocator must be 'tuned' or 'default', got the string "jemalloc"$/,
  });
});
