// A plain node process that times tasks.mjs's addOne on its own input
// (x[i] = (i % 1000) / 2, as lib/check.ts's pattern()) and prints, as JSON on
// stdout, the time of each call and the length, first, last element and sum
// of the last result, for the parent to check. Usage: addone-child.mjs n
// warmupCalls timedCalls. The parent chooses the environment (for instance
// GLIBC_TUNABLES for the malloc settings).
import { addOne } from './tasks.mjs';

const [n, warmupCalls, timedCalls] = process.argv.slice(2).map(Number);
const x = new Float64Array(n);
for (let i = 0; i < n; i++) x[i] = (i % 1000) / 2;
const samplesMs = [];
let y;
for (let i = 0; i < warmupCalls + timedCalls; i++) {
  y = undefined; // the previous result is garbage before the next call, as in the in-process rows
  const t0 = performance.now();
  y = addOne(x);
  const ms = performance.now() - t0;
  if (i >= warmupCalls) samplesMs.push(ms);
}
let sum = 0;
for (let i = 0; i < y.length; i++) sum += y[i];
process.stdout.write(JSON.stringify({ samplesMs, length: y.length, first: y[0], last: y[n - 1], sum }));
