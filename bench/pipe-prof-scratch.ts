// @ts-ignore
import { stats } from '/tmp/ti/cpu.mjs';
import { PipePool } from './peers/pipe.js';
const pool = new PipePool(2);
await pool.warm();
const inputs = Array.from({ length: 2000 }, (_, k) => new Float64Array(1000).fill(k));
const mode = process.argv[2] ?? 'tput';
const t0 = performance.now(); const c0 = stats();
let n = 0;
for (let r = 0; r < Number(process.argv[3] ?? 20); r++) {
  if (mode === 'tput') { await Promise.all(inputs.map((x) => pool.run('sum', x))); n += 2000; }
  else { for (const x of inputs) await pool.run('sum', x); n += 2000; }
}
const c1 = stats(); console.log(mode, ((performance.now() - t0) / n * 1000).toFixed(1), 'us/task', 'parent cpu', ((c1[0]-c0[0])/n).toFixed(1), 'workers cpu', ((c1[1]-c0[1])/n).toFixed(1));
await pool.close();
