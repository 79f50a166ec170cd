// What the parent spends per tiny task (a Float64Array of 1000, the task
// returns its sum; 2 workers; 2000 tasks submitted at once, then awaited),
// for one or more package roots side by side: heap bytes allocated by a
// submit (measured with a young generation large enough that no collection
// runs during the submit loop), and, with the default heap, time in garbage
// collection, CPU time and throughput. Each measurement runs in a fresh
// process; roots alternate, and medians are reported.
//
//   node bench/tiny-alloc-probe.mjs [--runs 7] label=/path/to/root...
//
// Without a root, the package this file belongs to is measured.
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TASKS = 2000;
const ROUNDS = 10;

async function child(root, mode) {
  const { PerformanceObserver } = await import('node:perf_hooks');
  let gcMs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  }).observe({ entryTypes: ['gc'] });
  const { ProcessPoolExecutor } = await import(pathToFileURL(`${root}/dist/index.js`).href);
  const ex = new ProcessPoolExecutor({ maxWorkers: 2, execArgv: [] });
  const sum = (x) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i];
    return s;
  };
  const x = new Float64Array(1000).fill(1);
  for (let r = 0; r < 3; r++) await Promise.all(Array.from({ length: TASKS }, () => ex.submit(sum, x)));
  const futures = new Array(TASKS);
  if (mode === 'alloc') {
    const perSubmit = [];
    for (let r = 0; r < 3; r++) {
      globalThis.gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < TASKS; i++) futures[i] = ex.submit(sum, x);
      perSubmit.push((process.memoryUsage().heapUsed - before) / TASKS);
      await Promise.all(futures);
    }
    await ex.shutdown();
    return { bytes: Math.min(...perSubmit) };
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  gcMs = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < TASKS; i++) futures[i] = ex.submit(sum, x);
    await Promise.all(futures);
  }
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  await new Promise((resolve) => setTimeout(resolve, 50)); // the last collections' entries
  await ex.shutdown();
  const n = TASKS * ROUNDS;
  return { gcUs: (gcMs * 1000) / n, cpuUs: (used.user + used.system) / n, tput: (n / wall) * 1000 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(process.argv[3], process.argv[4])));
} else {
  const args = process.argv.slice(2);
  const at = args.indexOf('--runs');
  const runs = at < 0 ? 7 : Number(args[at + 1]);
  const roots = args.filter((a, i) => a.includes('=') && args[i - 1] !== '--runs').map((a) => a.split('='));
  if (roots.length === 0) roots.push(['shmex', fileURLToPath(new URL('..', import.meta.url))]);
  const results = new Map(roots.map(([label]) => [label, []]));
  const self = fileURLToPath(import.meta.url);
  for (let run = 0; run < runs; run++) {
    for (const [label, root] of run % 2 ? [...roots].reverse() : roots) {
      const measure = (flags, mode) =>
        JSON.parse(
          execFileSync(process.execPath, [...flags, self, '--child', root, mode], { encoding: 'utf8' }),
        );
      const alloc = measure(['--expose-gc', '--max-semi-space-size=128'], 'alloc');
      results.get(label).push({ ...alloc, ...measure([], 'time') });
    }
  }
  console.log(`tiny tasks, parent side: ${runs} runs, medians`);
  console.log('root      bytes/submit   GC µs/task   CPU µs/task   tasks/s');
  for (const [label, rs] of results) {
    const m = (key) => median(rs.map((r) => r[key]));
    console.log(
      `${label.padEnd(8)} ${m('bytes').toFixed(0).padStart(13)} ${m('gcUs').toFixed(2).padStart(12)}` +
        ` ${m('cpuUs').toFixed(1).padStart(13)} ${m('tput').toFixed(0).padStart(9)}`,
    );
  }
}
