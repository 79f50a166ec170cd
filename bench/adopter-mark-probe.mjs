// What a worker process's adopter mark costs its parent (see
// src/shm/adopter-marks.ts): one /proc read and one empty file made per
// worker spawned. Times markAdopter() on a child process, 2000 times (each
// mark removed again), and prints the median and spread. Needs `npm run build`.
//
//   node bench/adopter-mark-probe.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { markAdopter, removeAdopterMarks } from '../dist/shm/adopter-marks.js';

const CALLS = 2000;
const dir = mkdtempSync('/dev/shm/shmex-mark-probe-');
const child = spawn('sleep', ['60']);
try {
  const micros = [];
  for (let i = 0; i < CALLS; i++) {
    const t = process.hrtime.bigint();
    const name = markAdopter(dir, child.pid);
    micros.push(Number(process.hrtime.bigint() - t) / 1000);
    if (name === undefined) throw new Error('no mark was made');
    removeAdopterMarks(dir, [name]);
  }
  micros.sort((a, b) => a - b);
  const at = (q) => micros[Math.floor(q * (CALLS - 1))].toFixed(1);
  console.log(`markAdopter: median ${at(0.5)} us (p10 ${at(0.1)}, p90 ${at(0.9)}), ${CALLS} calls`);
} finally {
  child.kill();
  rmSync(dir, { recursive: true, force: true });
}
