// The worker allocator, measured alone: the seed task (addOne on one big
// Float64Array, a fresh output array per call) through a ProcessPoolExecutor
// of 2 workers whose environment differs only in GLIBC_TUNABLES, against the
// same function in this process. Variants are interleaved call by call, then
// block by block (the first call of a block not counted); medians. Workers' memory is read from /proc.
//   npm run build && node --expose-gc --import tsx bench/allocator-probe.ts \
//     [--n 2e7] [--calls 11] [--block 4] [--variants default,tuned,...] [--workloads seed,zeros-out,...] [--raw]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { from, type ModuleTasks, ProcessPoolExecutor, release, zeros } from 'shmex';
import type * as ShmexTasks from './workers/shmex-tasks.mjs';
import type * as Tasks from './workers/tasks.mjs';
import { addOne } from './workers/tasks.mjs';

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
};
const N = arg('n', 2e7);
const CALLS = arg('calls', 11);
const BLOCK = arg('block', 4);
const only = process.argv.includes('--variants')
  ? process.argv[process.argv.indexOf('--variants') + 1]!.split(',')
  : undefined;

const KEEP = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295';
const THP = 'glibc.malloc.hugetlb=1';
// 'tuned' is the executor's default (workerAllocator: 'tuned'); the others without it set
// GLIBC_TUNABLES themselves with workerAllocator: 'default'. KEEP never gives freed memory back.
const ENVS: Record<string, { tunables?: string; execArgv?: string[]; tuned?: boolean }> = {
  default: {},
  tuned: { tuned: true },
  // The user's own GLIBC_TUNABLES come after the tuned ones: here, huge pages turned off.
  'tuned-nothp': { tuned: true, tunables: 'glibc.malloc.hugetlb=0' },
  thp: { tunables: THP },
  keep: { tunables: KEEP },
  'thp+keep': { tunables: `${THP}:${KEEP}` },
  'tuned+semi64': { tuned: true, execArgv: ['--max-semi-space-size=64'] },
};

/**
 * CPU time (ms, from schedstat: exact, unlike utime's 10 ms ticks) and minor page faults
 * of this process and the workers: wall times are noisy on a loaded machine, these much less.
 */
function usage(pids: readonly number[]): { cpu: number; faults: number } {
  const own = process.cpuUsage();
  let cpu = (own.user + own.system) / 1000;
  let faults = process.resourceUsage().minorPageFault;
  for (const pid of pids) {
    cpu += Number(readFileSync(`/proc/${pid}/schedstat`, 'latin1').split(' ')[0]) / 1e6;
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    faults += Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
  }
  return { cpu, faults };
}

interface Pool {
  name: string;
  ex: ProcessPoolExecutor;
  tasks: ModuleTasks<typeof Tasks>;
  shmTasks: ModuleTasks<typeof ShmexTasks>;
  pids: number[];
}

function status(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  const text = readFileSync(`/proc/${pid}/status`, 'latin1');
  for (const key of ['VmHWM', 'VmRSS', 'RssAnon', 'RssShmem']) {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    out[key] = m === null ? Number.NaN : Math.round(Number(m[1]) / 1024);
  }
  return out;
}

async function open(name: string): Promise<Pool> {
  const spec = ENVS[name]!;
  const saved = process.env.GLIBC_TUNABLES;
  if (spec.tunables === undefined) delete process.env.GLIBC_TUNABLES;
  else process.env.GLIBC_TUNABLES = spec.tunables;
  const ex = new ProcessPoolExecutor({
    maxWorkers: 2,
    execArgv: [...(spec.execArgv ?? []), '--expose-gc'],
    workerAllocator: spec.tuned === true ? 'tuned' : 'default',
  });
  const tasks = ex.module<typeof Tasks>(new URL('./workers/tasks.mjs', import.meta.url));
  const shmTasks = ex.module<typeof ShmexTasks>(new URL('./workers/shmex-tasks.mjs', import.meta.url));
  // Both workers start now (fork reads process.env here), each one answering once.
  const pids = await Promise.all(
    [0, 1].map(() =>
      ex.submit(async () => {
        await new Promise((r) => setTimeout(r, 200));
        return process.pid;
      }),
    ),
  );
  if (saved === undefined) delete process.env.GLIBC_TUNABLES;
  else process.env.GLIBC_TUNABLES = saved;
  return { name, ex, tasks, shmTasks, pids: [...new Set(pids)] };
}

/** The addOne of tasks.mjs, timed inside the worker, its output dropped: the compute alone. */
function computeAlone(x: Float64Array): number {
  const t = performance.now();
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! + 1;
  const ms = performance.now() - t;
  if (y[0] !== x[0]! + 1) throw new Error('wrong');
  return ms;
}

/**
 * seed: heap array in, `new Float64Array` out (tasks.mjs addOne). zero-copy: from() in, empty()
 * out. zeros-out: heap array in, output made with zeros(): what a worker-side allocator that put
 * large typed arrays in shared memory would give the seed (no copy of the result).
 */
type Workload = 'seed' | 'zeros-out' | 'zero-copy' | 'compute';
const WORKLOADS: Workload[] = (
  process.argv.includes('--workloads')
    ? process.argv[process.argv.indexOf('--workloads') + 1]!.split(',')
    : ['seed', 'zeros-out', 'zero-copy', 'compute']
) as Workload[];

/** addOne with its output in shared memory, zeroed as `new Float64Array` would be. */
function addOneZerosOut(x: Float64Array): Float64Array {
  const y = zeros(Float64Array, x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! + 1;
  return y;
}

/**
 * A burst: `k` arrays of `n` float64 alive at once, with small arrays made between them (kept
 * until the end, as a program's own data would be), then all dropped and collected.
 */
function burst(k: number, n: number): number {
  const big: Float64Array[] = [];
  const small: Float64Array[] = [];
  for (let i = 0; i < k; i++) {
    big.push(new Float64Array(n).fill(i));
    for (let j = 0; j < 64; j++) small.push(new Float64Array(1024 + j));
  }
  const total = big.reduce((s, a) => s + a[0]!, 0) + small.length;
  big.length = 0;
  (globalThis as { gc?: () => void }).gc?.();
  return total;
}

const x = new Float64Array(N);
for (let i = 0; i < N; i++) x[i] = i % 1000;
const z = from(Float64Array, x);

const cpuTimes = new Map<string, number[]>();
const faultCounts = new Map<string, number[]>();
let lastKey = '';

async function once(pool: Pool | 'in-process', w: Workload): Promise<number> {
  const pids = pool === 'in-process' ? [] : pool.pids;
  const before = usage(pids);
  const ms = await call(pool, w);
  const after = usage(pids);
  if (lastKey !== '') {
    push(cpuTimes, lastKey, after.cpu - before.cpu);
    push(faultCounts, lastKey, after.faults - before.faults);
  }
  return ms;
}

function push(map: Map<string, number[]>, key: string, v: number): void {
  const list = map.get(key) ?? [];
  list.push(v);
  map.set(key, list);
}

async function call(pool: Pool | 'in-process', w: Workload): Promise<number> {
  if (pool === 'in-process') {
    const t = performance.now();
    const y = addOne(x);
    const ms = performance.now() - t;
    if (y[1] !== x[1]! + 1) throw new Error('wrong');
    return ms;
  }
  if (w === 'compute') return pool.ex.submit(computeAlone, z);
  const t = performance.now();
  const y =
    w === 'seed'
      ? await pool.tasks.addOne(x)
      : w === 'zeros-out'
        ? await pool.ex.submit(addOneZerosOut, x)
        : await pool.shmTasks.addOneShmOut(z);
  const ms = performance.now() - t;
  if (y[1] !== x[1]! + 1) throw new Error('wrong');
  release(y);
  return ms;
}

const median = (a: number[]) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const cell = (mode: string, w: Workload, name: string) => {
  const list = times.get(`${mode}/${w}/${name}`);
  return list === undefined ? Number.NaN : median(list);
};
const cpuOf = (key: string) => {
  const cpu = cpuTimes.get(key);
  const faults = faultCounts.get(key);
  if (cpu === undefined || faults === undefined) return '-';
  return `${fmt(median(cpu))} ms cpu, ${(median(faults) / 1000).toFixed(1)}k faults`;
};
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

const names = only ?? Object.keys(ENVS);
const pools: Pool[] = [];
for (const name of names) pools.push(await open(name));
const runners: (Pool | 'in-process')[] = ['in-process', ...pools];
const label = (r: Pool | 'in-process') => (r === 'in-process' ? 'in-process' : r.name);

// Warm-up: every runner, every workload, twice.
for (let i = 0; i < 2; i++) for (const r of runners) for (const w of WORKLOADS) await once(r, w);

const times = new Map<string, number[]>();
const add = (key: string, ms: number) => push(times, key, ms);
for (const mode of ['call', 'block'] as const) {
  for (const w of WORKLOADS) {
    if (mode === 'call') {
      for (let c = 0; c < CALLS; c++) {
        // The order rotates, so no runner always follows the same one.
        for (let k = 0; k < runners.length; k++) {
          const r = runners[(c + k) % runners.length]!;
          if (r === 'in-process' && w !== 'seed') continue;
          lastKey = `${mode}/${w}/${label(r)}`;
          add(lastKey, await once(r, w));
        }
      }
    } else {
      // Blocks of BLOCK calls per runner, runners alternating, rounds until CALLS samples each.
      // The first call of a block is not counted: on a loaded machine a pool idle for 2 to 4 s
      // has had its idle segments trimmed, and that call faults them in again.
      const rounds = Math.ceil(CALLS / (BLOCK - 1));
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < runners.length; k++) {
          const r = runners[(round + k) % runners.length]!;
          if (r === 'in-process' && w !== 'seed') continue;
          lastKey = '';
          await once(r, w);
          lastKey = `${mode}/${w}/${label(r)}`;
          for (let c = 1; c < BLOCK; c++) add(lastKey, await once(r, w));
        }
      }
    }
  }
}

const memBusy = new Map(pools.map((p) => [p.name, p.pids.map(status)]));
// Idle: segments are trimmed after 2 to 4 s; what a worker keeps of its heap stays.
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 5000));
const memIdle = new Map(pools.map((p) => [p.name, p.pids.map(status)]));
// With --burst: a burst of big allocations (4 arrays of N alive at once in one worker of each
// pool, one pool at a time, so the machine never holds them all), then idle.
const memBurst = new Map<string, Record<string, number>[]>();
for (const p of pools) {
  if (process.argv.includes('--burst')) {
    await p.ex.submit(burst, 4, N);
    await new Promise((r) => setTimeout(r, 5000));
  }
  memBurst.set(p.name, p.pids.map(status));
}

console.log(`addOne on ${N} float64 (${((N * 8) / 1e6).toFixed(0)} MB), 2 workers, ${CALLS} calls per cell`);
const ip = { call: cell('call', 'seed', 'in-process'), block: cell('block', 'seed', 'in-process') };
console.log(
  `in-process: ${fmt(ip.call)} ms interleaved call by call, ${fmt(ip.block)} in blocks; ${cpuOf('block/seed/in-process')}`,
);
console.log(
  'Wall time, ms medians (x in-process of the same mode); compute = addOne timed inside the worker',
);
console.log(`variant      | mode  | ${WORKLOADS.map((w) => w.padEnd(13)).join(' | ')}`);
for (const p of pools) {
  for (const mode of ['call', 'block'] as const) {
    const cells = WORKLOADS.map((w) => {
      const v = cell(mode, w, p.name);
      return (w === 'compute' ? fmt(v) : `${fmt(v)} (${(v / ip[mode]).toFixed(2)})`).padEnd(13);
    });
    console.log(`${p.name.padEnd(12)} | ${mode.padEnd(5)} | ${cells.join(' | ')}`);
  }
}
console.log('CPU time of this process and both workers, and minor faults, per call (medians):');
for (const p of pools) {
  for (const mode of ['call', 'block'] as const) {
    const cells = WORKLOADS.map((w) => `${w} ${cpuOf(`${mode}/${w}/${p.name}`)}`);
    console.log(`${p.name.padEnd(12)} | ${mode.padEnd(5)} | ${cells.join(' | ')}`);
  }
}
console.log(
  'Workers, MB: VmHWM / RssAnon: after the runs, idle 5 s later, after the --burst of 4 arrays (one worker)',
);
for (const p of pools) {
  const mem = p.pids.map((_, i) => {
    const b = memBusy.get(p.name)![i]!;
    return `${b.VmHWM} / ${b.RssAnon}, ${memIdle.get(p.name)![i]!.RssAnon}, ${memBurst.get(p.name)![i]!.RssAnon}`;
  });
  console.log(`${p.name.padEnd(12)} | ${mem.join(' | ')}`);
}
if (process.argv.includes('--raw')) console.log(JSON.stringify(Object.fromEntries(times)));
for (const p of pools) await p.ex.shutdown();
