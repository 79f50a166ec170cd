// Section (c) in a process of its own (see runTinyTasksAlone in tiny-tasks.ts):
//   node --import tsx bench/workloads/tiny-child.ts <prefix> <count> <rounds> <warmupTasks> <out.json>
// writes { result, passed, failures } to out.json; progress and failed checks go to stderr.
import { writeFileSync } from 'node:fs';
import { Checks } from '../lib/check.js';
import { runTinyTasks } from './tiny-tasks.js';

const [prefix, count, rounds, warmupTasks, out] = process.argv.slice(2);
if (out === undefined)
  throw new Error('usage: tiny-child.ts <prefix> <count> <rounds> <warmupTasks> <out.json>');
const checks = new Checks();
const result = await runTinyTasks(prefix!, Number(count), Number(rounds), Number(warmupTasks), checks);
writeFileSync(out, JSON.stringify({ result, passed: checks.passed, failures: checks.failures }));
