// The engine's own floors for the cluster section, measured beside the
// ClusterExecutor in the same run: raw Redis SET and GET of the same bytes a
// 160 MB round trip moves (through ioredis, the client the cluster uses,
// pipelined in the cluster's chunk size), and BullMQ's throughput for empty
// jobs (Queue.addBulk, one Worker with a concurrency).
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export const CHUNK_BYTES = 8 * 1024 * 1024;

export interface RawTimes {
  setMs: number;
  getMs: number;
}

/** One SET of `bytes` in chunks (a pipeline), then one GET of them back; checks the bytes, deletes the keys. */
export async function rawSetGet(url: string, bytes: Uint8Array, tag: string): Promise<RawTimes> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    const t0 = performance.now();
    const put = redis.pipeline();
    for (let at = 0; at < bytes.length; at += CHUNK_BYTES) {
      const key = `bench:raw:${tag}:${keys.length}`;
      keys.push(key);
      put.set(
        key,
        Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.min(CHUNK_BYTES, bytes.length - at)),
      );
    }
    for (const [error] of (await put.exec()) ?? []) if (error) throw error;
    const t1 = performance.now();
    const get = redis.pipeline();
    for (const key of keys) get.getBuffer(key);
    const replies = (await get.exec()) ?? [];
    const t2 = performance.now();
    let at = 0;
    for (const [error, chunk] of replies) {
      if (error) throw error;
      const part = chunk as Buffer;
      if (Buffer.compare(part, Buffer.from(bytes.buffer, bytes.byteOffset + at, part.length)) !== 0)
        throw new Error(`raw Redis GET: chunk at byte ${at} differs from what was SET`);
      at += part.length;
    }
    if (at !== bytes.length) throw new Error(`raw Redis GET: ${at} bytes back of ${bytes.length}`);
    await redis.del(...keys);
    return { setMs: t1 - t0, getMs: t2 - t1 };
  } finally {
    redis.disconnect();
  }
}

export interface BullFloor {
  run(jobs: number): Promise<number>;
  close(): Promise<void>;
}

/** A BullMQ queue and worker for empty jobs; run(n) adds n jobs at once and resolves with the ms until all completed. */
export async function bullFloor(url: string, queue: string, concurrency: number): Promise<BullFloor> {
  const { hostname, port } = new URL(url);
  const connection = { host: hostname, port: Number(port), maxRetriesPerRequest: null };
  const q = new Queue(queue, { connection });
  let completed = 0;
  let waiter: (() => void) | undefined;
  let target = 0;
  const worker = new Worker(queue, async () => null, { connection, concurrency });
  worker.on('completed', () => {
    if (++completed >= target) waiter?.();
  });
  await worker.waitUntilReady();
  return {
    async run(jobs) {
      completed = 0;
      target = jobs;
      const done = new Promise<void>((resolve) => {
        waiter = resolve;
      });
      const t0 = performance.now();
      await q.addBulk(
        Array.from({ length: jobs }, (_, i) => ({
          name: 'empty',
          data: { i },
          opts: { removeOnComplete: true, removeOnFail: true },
        })),
      );
      await done;
      return performance.now() - t0;
    },
    async close() {
      await worker.close();
      await q.obliterate({ force: true });
      await q.close();
    },
  };
}
