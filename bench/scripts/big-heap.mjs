// The seed's addOne on 160 MB through 2 workers, results dropped, in a
// caller whose own heap holds many objects (a server's caches, a parsed
// dataset): what the parent's collections for dropped results cost there.
// Builds side by side, each run in a fresh process, alternated round by round.
//   npm run build && node bench/scripts/big-heap.mjs [rounds=3] [objects=3e6] base=<root of a built tree> new=$PWD
// Prints, per build, the median ms per call over its runs and the heap used.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CALLS = 16;
const UNTIMED = 4;

if (process.argv[2] === '--child') {
  const [, , , root, objects] = process.argv;
  const { ProcessPoolExecutor } = await import(`${root}/dist/index.js`);
  const junk = [];
  for (let i = 0; i < Number(objects); i++) junk.push({ a: i, b: `s${i}`, c: [i] });
  const n = 2e7;
  const x = new Float64Array(n).fill(1.5);
  const ex = new ProcessPoolExecutor({ maxWorkers: 2, execArgv: [] });
  const tasks = ex.module(new URL('bench/workers/tasks.mjs', `file://${root}/`));
  await Promise.all([tasks.noop(), tasks.noop()]);
  // Each call and its check in a function of their own: the result is dead when the next starts.
  const one = async () => {
    const y = await tasks.addOne(x);
    if (y.length !== n || y[0] !== 2.5 || y[n - 1] !== 2.5) throw new Error('wrong result');
  };
  const ms = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await one();
    if (i >= UNTIMED) ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const heapMB = process.memoryUsage().heapUsed / 1e6;
  await ex.shutdown();
  process.stdout.write(JSON.stringify({ ms: ms[ms.length >> 1], heapMB, kept: junk.length }));
} else {
  const rest = process.argv.slice(2);
  const builds = rest.filter((a) => a.includes('=')).map((a) => a.split('='));
  const [rounds = '3', objects = '3e6'] = rest.filter((a) => !a.includes('='));
  const runs = new Map(builds.map(([label]) => [label, []]));
  let heapMB = 0;
  for (let r = 0; r < Number(rounds); r++) {
    for (const [label, root] of r % 2 === 0 ? builds : [...builds].reverse()) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', root, objects]);
      const run = JSON.parse(String(out));
      runs.get(label).push(run.ms);
      heapMB = run.heapMB;
    }
  }
  console.log(`${objects} objects on the caller's heap (${heapMB.toFixed(0)} MB used), ${rounds} runs each`);
  for (const [label, ms] of runs) {
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(
      `${label}: median ${sorted[sorted.length >> 1].toFixed(1)} ms/call (runs: ${ms.map((v) => v.toFixed(0)).join(', ')})`,
    );
  }
}
