// workerAllocator: worker processes start with GLIBC_TUNABLES that tune
// glibc's malloc ('tuned', and 'shared', the default), placed before the user's own; with
// 'default' they get the parent's environment as it is. Threads take only
// 'default'. Checked in real workers: the variable a task sees, and that
// glibc applied it (a large block made again faults far less than with
// glibc's defaults, which map it anew each time).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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

/**
 * What a worker reports: its GLIBC_TUNABLES, and the fewest page faults that making a 64 MiB
 * array again cost once the previous one was freed (V8 gives a large backing store to calloc).
 * With glibc's defaults the block is mapped anew each time (16,384 faults); tuned, it reuses
 * memory the heap kept (and huge pages, where the kernel gives them, fault 512 times less). The fewest of a few tries, since V8 may free the old one a little late.
 */
async function probe(): Promise<{ tunables: string | undefined; faults: number }> {
  const make = () => {
    const block = new Float64Array(8 * 1024 * 1024);
    for (let i = 0; i < block.length; i += 512) block[i] = 1;
    return block.length;
  };
  const gc = (globalThis as { gc?: () => void }).gc!;
  let fewest = Infinity;
  for (let i = 0; i < 5; i++) {
    make();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = process.resourceUsage().minorPageFault;
    make();
    fewest = Math.min(fewest, process.resourceUsage().minorPageFault - before);
  }
  return { tunables: process.env.GLIBC_TUNABLES, faults: fewest };
}

/** Fewer faults than this: glibc's defaults do not apply (they take 16,384). */
const REUSED = 4096;

async function probeWith(options: { workerAllocator?: 'tuned' | 'default' }, tunables: string | undefined) {
  setTunables(tunables);
  try {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, execArgv: ['--expose-gc'], ...options });
    return await ex.submit(probe);
  } finally {
    setTunables(saved);
  }
}

test('by default, a worker process starts with tuned malloc tunables, and glibc applies them', async () => {
  const seen = await probeWith({}, undefined);
  assert.match(
    seen.tunables ?? '',
    /^glibc\.malloc\.hugetlb=1:glibc\.malloc\.mmap_max=0:glibc\.malloc\.trim_threshold=\d+$/,
  );
  if (glibc) assert.ok(seen.faults < REUSED, `a 64 MiB block made again faulted ${seen.faults} times`);
});

test("the user's own GLIBC_TUNABLES are kept, after ours (glibc applies them in order, so theirs win)", async () => {
  const seen = await probeWith(
    { workerAllocator: 'tuned' },
    'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0:glibc.malloc.mmap_max=65536',
  );
  assert.match(
    seen.tunables ?? '',
    /^glibc\.malloc\.hugetlb=1:.*:glibc\.malloc\.arena_max=2:glibc\.malloc\.hugetlb=0:glibc\.malloc\.mmap_max=65536$/,
  );
  // Theirs (glibc's defaults) override ours: the block is mapped anew, in small pages, each time.
  if (glibc) assert.ok(seen.faults > REUSED, `only ${seen.faults} faults`);
});

test("workerAllocator 'default' leaves the environment as it is", async () => {
  const none = await probeWith({ workerAllocator: 'default' }, undefined);
  assert.equal(none.tunables, undefined);
  if (glibc)
    assert.ok(none.faults > REUSED, `glibc's defaults map a 64 MiB block anew: ${none.faults} faults`);
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

test("threads refuse 'tuned': they share this process's allocator, which neither 'shared' nor 'default' changes", async () => {
  assert.throws(() => new ThreadPoolExecutor({ workerAllocator: 'tuned' }), {
    name: 'InvalidArgumentError',
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message: /workerAllocator cannot be 'tuned' for threads/,
  });
  for (const workerAllocator of ['default', 'shared'] as const) {
    await using ex = new ThreadPoolExecutor({ maxWorkers: 1, workerAllocator });
    assert.equal(await ex.submit(() => process.env.GLIBC_TUNABLES), saved, workerAllocator);
  }
});

test('a wrong workerAllocator is refused with its type', () => {
  assert.throws(() => new ProcessPoolExecutor({ workerAllocator: 'jemalloc' as 'tuned' }), {
    code: 'ERR_SHMEX_INVALID_ARGUMENT',
    message:
      /^ProcessPoolExecutor: workerAllocator must be 'tuned', 'shared' or 'default', got the string "jemalloc"$/,
  });
});

/** Makes `count` blocks of 64 MiB at once, touches them, drops them; answers the worker's pid. */
function burst(count: number): number {
  const blocks: Float64Array[] = [];
  for (let b = 0; b < count; b++) {
    const block = new Float64Array(8 * 1024 * 1024);
    for (let i = 0; i < block.length; i += 512) block[i] = b;
    blocks.push(block);
  }
  return blocks.length === count ? process.pid : -1;
}

function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

test('a tuned worker gives the memory it kept back once idle', { skip: !glibc && 'glibc only' }, async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const pid = await ex.submit(burst, 4);
  // Right after the burst the worker keeps much of its 256 MiB for the next task; idle, it gives
  // it back (WORKER_HEAP_TRIM_IDLE_MS).
  const deadline = Date.now() + 20_000;
  let resident = residentMiB(pid);
  while (resident > 120 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    resident = residentMiB(pid);
  }
  assert.ok(resident <= 120, `the idle worker still holds ${resident.toFixed(0)} MiB`);
  // And it works as before.
  assert.equal(await ex.submit(burst, 1), pid);
});
