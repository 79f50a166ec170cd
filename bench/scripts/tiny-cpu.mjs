// CPU time per tiny task (a Float64Array of 1000, the task returns its sum:
// bench/workers/tasks.mjs's, as a module task, as the benchmark runs it;
// 2 workers; 2000 tasks submitted at once, then awaited, 10 times; with
// --latency, one at a time, each awaited, and their median time; with
// --echo, shmex builds only, the task returns its argument), in the
// parent and in its workers, for the raw-pipe floor (bench/peers/pipe.ts's
// protocol, inline here) and for one or more shmex builds, side by side.
// CPU time is that of every thread (/proc/<pid>/task/*/schedstat, in ns), so
// it counts what a sampling profiler attributes to a call while the process
// waits for a core; context switches count the wake-ups, and minor page
// faults (per task) fresh memory. Each measurement
// runs in a fresh process; the order rotates; medians are reported.
// A label ending in `+big` (floor+big, shmex+big=/path) first moves big
// arrays in that process, as section (a) of the benchmark does before the
// tiny tasks of (c): TINY_BIG_N float64 (2e7) through addOne on two pools of
// 2 workers (a heap argument, then one made with from()), TINY_BIG_CALLS
// (10) calls each, results dropped, each pool shut down; gc counts the
// collections in the timed runs (forced: by shmex's rule for dropped results).
//
//   node bench/scripts/tiny-cpu.mjs [--runs 7] [--latency] [--echo] [floor] label=/path/to/root...
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TASKS = 2000;
/** Timed bursts (or runs of TASKS one at a time) per measurement; TINY_ROUNDS for a long profile. */
const ROUNDS = Number(process.env.TINY_ROUNDS ?? 10);
const PIPE_CHILD = fileURLToPath(new URL('../workers/pipe-child.mjs', import.meta.url));
/** Node options of the workers (for a profile of one run: see perf-buckets.mjs). */
const WORKER_ARGS = process.env.TINY_WORKER_ARGS?.split(' ').filter(Boolean) ?? [];

/** CPU ns of every thread of a process, and its context switches (voluntary, involuntary). */
function usage(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended meanwhile.
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const faults = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)[1]);
  return { ns, faults, switches: field('voluntary_ctxt_switches') + field('nonvoluntary_ctxt_switches') };
}

function childPids() {
  const text = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8');
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

function floorPool() {
  const HEADER = 8;
  const children = [];
  for (let i = 0; i < 2; i++) {
    const child = {
      process: spawn(process.execPath, [...WORKER_ARGS, PIPE_CHILD], { stdio: ['pipe', 'pipe', 'inherit'] }),
      pending: new Map(),
      buffered: Buffer.alloc(0),
    };
    child.process.stdout.on('data', (chunk) => {
      let data = child.buffered.length === 0 ? chunk : Buffer.concat([child.buffered, chunk]);
      while (data.length >= HEADER + 8) {
        const id = data.readUInt32LE(0);
        const resolve = child.pending.get(id);
        child.pending.delete(id);
        resolve?.(data.readDoubleLE(HEADER));
        data = data.subarray(HEADER + 8);
      }
      child.buffered = data;
    });
    children.push(child);
  }
  let nextId = 1;
  return {
    run(x) {
      let child = children[0];
      for (const c of children) if (c.pending.size < child.pending.size) child = c;
      const id = nextId++;
      const frame = Buffer.allocUnsafe(HEADER + x.byteLength);
      frame.writeUInt32LE(id, 0);
      frame.writeUInt32LE(x.byteLength, 4);
      frame.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), HEADER);
      return new Promise((resolve) => {
        child.pending.set(id, resolve);
        child.process.stdin.write(frame);
      });
    },
    close() {
      for (const c of children) c.process.stdin.end();
    },
  };
}

/** Section (a)'s work in this process: 160 MB arrays through addOne on two pools, results dropped. */
async function bigArrays(root) {
  const shmex = await import(
    pathToFileURL(
      `${root === 'floor' ? fileURLToPath(new URL('../..', import.meta.url)) : root}/dist/index.js`,
    ).href
  );
  const n = Number(process.env.TINY_BIG_N ?? 2e7);
  const calls = Number(process.env.TINY_BIG_CALLS ?? 10);
  const x = new Float64Array(n).fill(1);
  // TINY_BIG_KINDS: which of (a)'s shmex variants run (heap,from,threads,shared,release).
  const kinds = (process.env.TINY_BIG_KINDS ?? 'heap,from').split(',');
  const z = shmex.from(Float64Array, x);
  for (const kind of kinds) {
    const Executor = kind === 'threads' ? shmex.ThreadPoolExecutor : shmex.ProcessPoolExecutor;
    const ex = new Executor({ maxWorkers: 2, execArgv: [] });
    const tasks = ex.module(new URL('../workers/tasks.mjs', import.meta.url));
    for (let i = 0; i < calls; i++) {
      if (kind === 'shared') await tasks.addOneInPlace(shmex.shared(z));
      else {
        const y = await tasks.addOne(kind === 'from' ? z : x);
        if (y[0] !== 2) throw new Error('addOne');
        if (kind === 'release') shmex.release(y);
      }
    }
    await ex.shutdown();
  }
}

async function child(root, mode, echo, preload) {
  if (preload === 'big') await bigArrays(root);
  const beforeMemory = process.memoryUsage();
  let run;
  let close;
  if (root === 'floor') {
    const pool = floorPool();
    run = (x) => pool.run(x);
    close = () => pool.close();
  } else {
    const { ProcessPoolExecutor } = await import(pathToFileURL(`${root}/dist/index.js`).href);
    const ex = new ProcessPoolExecutor({ maxWorkers: 2, execArgv: WORKER_ARGS });
    // As the benchmark runs it: the module task of bench/workers/tasks.mjs.
    const tasks = ex.module(new URL('../workers/tasks.mjs', import.meta.url));
    run = echo ? (x) => ex.submit((y) => y, x) : (x) => tasks.sum(x);
    close = () => ex.shutdown();
  }
  const x = new Float64Array(1000).fill(1);
  for (let r = 0; r < 3; r++) await Promise.all(Array.from({ length: TASKS }, () => run(x)));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const pids = [process.pid, ...childPids()];
  // TINY_PERF_OUT: `perf record` of the timed runs alone, every thread of these processes (see
  // perf-buckets.mjs); a profile of the whole run counts the warm-up's compilation as well.
  const perf = process.env.TINY_PERF_OUT
    ? spawn('perf', ['record', '-F', '4000', '-g', '-o', process.env.TINY_PERF_OUT, '-p', pids.join(',')], {
        stdio: 'ignore',
      })
    : undefined;
  if (perf !== undefined) await new Promise((resolve) => setTimeout(resolve, 1500)); // perf attaches
  const gcs = { ms: 0, count: 0, forced: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcs.ms += entry.duration;
      gcs.count++;
      if (entry.detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) gcs.forced++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const before = pids.map(usage);
  const futures = new Array(TASKS);
  const times = [];
  const start = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    if (mode === 'latency') {
      for (let i = 0; i < TASKS; i++) {
        const t0 = performance.now();
        await run(x);
        times.push(performance.now() - t0);
      }
      continue;
    }
    for (let i = 0; i < TASKS; i++) futures[i] = run(x);
    await Promise.all(futures);
  }
  const wall = performance.now() - start;
  if (perf !== undefined) {
    perf.kill('SIGINT');
    await new Promise((resolve) => perf.on('exit', resolve));
  }
  const after = pids.map(usage);
  await new Promise((resolve) => setTimeout(resolve, 10)); // gc entries come on a later turn
  observer.disconnect();
  await close();
  const n = TASKS * ROUNDS;
  const per = (i, key) => (after[i][key] - before[i][key]) / n;
  let workerNs = 0;
  let workerSwitches = 0;
  let workerFaults = 0;
  for (let i = 1; i < pids.length; i++) {
    workerNs += per(i, 'ns');
    workerSwitches += per(i, 'switches');
    workerFaults += per(i, 'faults');
  }
  return {
    tput: (n / wall) * 1000,
    latencyUs: times.length > 0 ? median(times) * 1000 : 0,
    parentUs: per(0, 'ns') / 1000,
    workersUs: workerNs / 1000,
    parentSw: per(0, 'switches'),
    workersSw: workerSwitches,
    parentPf: per(0, 'faults'),
    workersPf: workerFaults,
    gcUs: (gcs.ms * 1000) / n,
    gcs: gcs.count,
    forced: gcs.forced,
    externalMB: beforeMemory.external / 1e6,
    heapMB: beforeMemory.heapTotal / 1e6,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (process.argv[2] === '--child') {
  console.log(
    JSON.stringify(
      await child(process.argv[3], process.argv[4], process.argv[5] === 'echo', process.argv[6]),
    ),
  );
} else {
  const args = process.argv.slice(2);
  const at = args.indexOf('--runs');
  const runs = at < 0 ? 7 : Number(args[at + 1]);
  const mode = args.includes('--latency') ? 'latency' : 'throughput';
  const echo = args.includes('--echo') ? 'echo' : 'sum';
  const roots = args
    .filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--runs')
    .map((a) => (a === 'floor' || a === 'floor+big' ? [a, 'floor'] : a.split('=')));
  if (roots.length === 0)
    roots.push(['floor', 'floor'], ['shmex', fileURLToPath(new URL('../..', import.meta.url))]);
  const results = new Map(roots.map(([label]) => [label, []]));
  const self = fileURLToPath(import.meta.url);
  for (let run = 0; run < runs; run++) {
    const order = roots.map((_, i) => roots[(i + run) % roots.length]);
    for (const [label, root] of order) {
      const before = label.endsWith('+big') ? 'big' : 'none';
      const out = execFileSync(process.execPath, [self, '--child', root, mode, echo, before], {
        encoding: 'utf8',
      });
      results.get(label).push(JSON.parse(out));
    }
  }
  console.log(`tiny tasks (${echo}), ${mode} mode: ${runs} runs, medians (CPU of all threads, per task)`);
  console.log(
    'build        tasks/s  latency µs  parent µs  workers µs  total µs  parent sw  workers sw  parent pf  workers pf  gc µs  gcs  forced  external MB  heap MB',
  );
  for (const [label, rs] of results) {
    const m = (key) => median(rs.map((r) => r[key]));
    console.log(
      `${label.padEnd(10)} ${m('tput').toFixed(0).padStart(9)} ${m('latencyUs').toFixed(1).padStart(11)}` +
        ` ${m('parentUs').toFixed(1).padStart(10)}` +
        ` ${m('workersUs').toFixed(1).padStart(11)} ${median(rs.map((r) => r.parentUs + r.workersUs))
          .toFixed(1)
          .padStart(9)}` +
        ` ${m('parentSw').toFixed(2).padStart(10)} ${m('workersSw').toFixed(2).padStart(11)}` +
        ` ${m('parentPf').toFixed(2).padStart(10)} ${m('workersPf').toFixed(2).padStart(11)}` +
        ` ${m('gcUs').toFixed(2).padStart(6)} ${m('gcs').toFixed(0).padStart(4)} ${m('forced').toFixed(0).padStart(7)}` +
        ` ${m('externalMB').toFixed(0).padStart(12)} ${m('heapMB').toFixed(0).padStart(8)}`,
    );
  }
}
