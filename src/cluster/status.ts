// `shmex cluster status`: the queue's job counts, the machines whose
// heartbeat is alive, and the bytes of arrays stored.
import { allBlobsPattern, allMachinesPattern } from './keys.js';
import { bullmq, connect, type Redis } from './peers.js';

export interface ClusterStatus {
  queue: string;
  jobs: Record<string, number>;
  machines: { name: string; host: string; pid: number; maxWorkers: number; running: number; done: number }[];
  storedBytes: number;
  storedKeys: number;
}

async function scan(redis: Redis, pattern: string, each: (keys: string[]) => Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await each(keys);
  } while (cursor !== '0');
}

export async function clusterStatus(url: string, queueName: string): Promise<ClusterStatus> {
  const redis = connect(url, 'shmex-status');
  redis.on('error', () => {});
  const queue = new bullmq.Queue(queueName, { connection: { url } as never });
  try {
    const jobs = await queue.getJobCounts(
      'waiting',
      'prioritized',
      'active',
      'delayed',
      'completed',
      'failed',
    );
    const machines: ClusterStatus['machines'] = [];
    await scan(redis, allMachinesPattern(queueName), async (keys) => {
      for (const text of await redis.mget(...keys)) if (text !== null) machines.push(JSON.parse(text));
    });
    let storedBytes = 0;
    let storedKeys = 0;
    await scan(redis, allBlobsPattern(queueName), async (keys) => {
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.strlen(key);
      for (const [, n] of (await pipeline.exec()) ?? []) storedBytes += Number(n ?? 0);
      storedKeys += keys.length;
    });
    machines.sort((a, b) => a.name.localeCompare(b.name));
    return { queue: queueName, jobs, machines, storedBytes, storedKeys };
  } finally {
    await queue.close().catch(() => {});
    redis.disconnect();
  }
}

export function formatStatus(s: ClusterStatus): string {
  const jobs = Object.entries(s.jobs)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const lines = [`queue ${s.queue}: ${jobs}`, `machines: ${s.machines.length}`];
  for (const m of s.machines) {
    lines.push(
      `  ${m.name}  host ${m.host} pid ${m.pid}  workers ${m.maxWorkers}  running ${m.running}  done ${m.done}`,
    );
  }
  lines.push(`stored arrays: ${s.storedBytes} bytes in ${s.storedKeys} keys`);
  return `${lines.join('\n')}\n`;
}
