// What a shmex/cluster job costs, on loopback: Redis commands per job (INFO
// commandstats of a redis-server of its own; a script counts as one EVALSHA
// plus the commands it runs) and CPU per task of each process (the
// submitter, the 2 machines, their pool processes, redis-server; from
// /proc, so other load on the machine does not count). Tiny tasks (1e3
// float64 summed) submitted all at once (batch jobs) and one at a time (a
// job each); and a 160 MB addOne round trip.
// npm run build && node --import tsx bench/scripts/cluster-cost.ts [--quick]
import { readFileSync } from 'node:fs';
import { LocalCluster } from 'shmex/cluster';
import { startRedis } from '../../test/helpers/redis-server.js';
import { TASKS_URL } from '../peers/types.js';
import type * as Tasks from '../workers/tasks.mjs';

const quick = process.argv.includes('--quick');
const TASKS = 2000;
const ROUNDS = quick ? 2 : 5;
const redis = await startRedis();
const cluster = await LocalCluster.start({ url: redis.url, machines: 2, maxWorkers: 1 });
const ex = cluster.executor({ maxWorkers: 2 });
const remote = ex.module<typeof Tasks>(TASKS_URL);

/** user + system CPU of a process, in ms (0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

function children(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

interface Snapshot {
  cpu: Record<string, number>;
  commands: Map<string, number>;
}

async function snapshot(): Promise<Snapshot> {
  const own = process.cpuUsage();
  const sum = (pids: number[]) => pids.reduce((total, pid) => total + cpuMs(pid), 0);
  const machines = cluster.machines.map((m) => m.pid);
  const commands = new Map<string, number>();
  for (const [key, value] of Object.entries(await redis.info('commandstats'))) {
    const calls = /calls=(\d+)/.exec(value);
    if (key.startsWith('cmdstat_') && key !== 'cmdstat_info' && calls)
      commands.set(key.slice('cmdstat_'.length), Number(calls[1]));
  }
  return {
    cpu: {
      submitter: (own.user + own.system) / 1000,
      machines: sum(machines),
      pools: sum(machines.flatMap(children)),
      redis: cpuMs(redis.pid),
    },
    commands,
  };
}

async function measure(label: string, jobs: number, tasks: number, run: () => Promise<unknown>) {
  // What the previous step left (removals, events) settles before counting.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = await snapshot();
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 300));
  const after = await snapshot();
  const grown: [string, number][] = [];
  let total = 0;
  for (const [name, calls] of after.commands) {
    const d = calls - (before.commands.get(name) ?? 0);
    if (d > 0) grown.push([name, d]);
    total += d;
  }
  grown.sort((a, b) => b[1] - a[1]);
  const perJob = (n: number) => (n / jobs).toFixed(1);
  const cpu = Object.keys(after.cpu)
    .map((k) => `${k} ${(((after.cpu[k]! - before.cpu[k]!) / tasks) * 1000).toFixed(0)}`)
    .join(', ');
  console.log(`${label}: ${jobs} jobs, ${ms.toFixed(0)} ms`);
  console.log(`  CPU µs per task: ${cpu}`);
  console.log(
    `  Redis commands per job: ${perJob(total)} (${grown
      .slice(0, 10)
      .map(([n, d]) => `${n} ${perJob(d)}`)
      .join(', ')})`,
  );
}

const inputs = Array.from({ length: TASKS }, (_, k) => Float64Array.from({ length: 1000 }, (_, j) => j + k));
const all = () => Promise.all(inputs.map((v) => remote.sum(v)));
for (let warm = 0; warm < 2; warm++) await all();
// Batches of 32 tasks: 2000 tasks in 63 jobs.
await measure(
  `${TASKS} tiny tasks at once, ${ROUNDS} times`,
  ROUNDS * Math.ceil(TASKS / 32),
  ROUNDS * TASKS,
  async () => {
    for (let r = 0; r < ROUNDS; r++) await all();
  },
);
await measure('200 tiny tasks one at a time', 200, 200, async () => {
  for (let k = 0; k < 200; k++) await remote.sum(inputs[k]!);
});
const big = new Float64Array(quick ? 2e6 : 2e7).fill(1);
await measure(`${big.byteLength / 1e6} MB addOne round trip, 3 times`, 3, 3, async () => {
  for (let k = 0; k < 3; k++) await remote.addOne(big);
});
await ex.shutdown();
await cluster.close();
await redis.stop();
