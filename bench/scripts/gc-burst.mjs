// Tiny bursts (2000 tasks, each the sum of a 1000-element Float64Array) on 2
// worker processes; before the measured burst, after two unmeasured ones:
// nothing, a forced full collection (gc(), as shmex's parent collection
// runs), or gc({ type: 'major' }). Medians of the first burst after each.
//   npm run build && node bench/scripts/gc-burst.mjs [rounds=12]
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const { ProcessPoolExecutor } = await import(new URL('../../dist/index.js', import.meta.url).href);
const rounds = Number(process.argv[2] ?? 12);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
setFlagsFromString('--no-expose-gc');

const ex = new ProcessPoolExecutor({ maxWorkers: 2, execArgv: [] });
const sum = (a) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};
const x = new Float64Array(1000).fill(1);

/** Tasks per second of one burst of 2000 submits awaited together. */
async function burst() {
  const t = performance.now();
  const futures = [];
  for (let i = 0; i < 2000; i++) futures.push(ex.submit(sum, x));
  await Promise.all(futures);
  return 2000 / ((performance.now() - t) / 1000);
}

const before = {
  nothing: () => {},
  'gc()': () => gc(),
  "gc({ type: 'major' })": () => gc({ type: 'major' }),
};
const rates = Object.fromEntries(Object.keys(before).map((k) => [k, []]));
for (let i = 0; i < 10; i++) await burst();
for (let r = 0; r < rounds; r++) {
  for (const [label, collect] of Object.entries(before)) {
    await burst();
    await burst();
    collect();
    await new Promise((resolve) => setTimeout(resolve, 20));
    rates[label].push(await burst());
  }
}
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
for (const [label, r] of Object.entries(rates))
  console.log(`${label.padEnd(24)} first burst after: ${Math.round(median(r))} tasks/s`);
await ex.shutdown();
