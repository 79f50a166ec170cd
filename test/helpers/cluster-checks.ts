// What every cluster fault test checks at its end: each Future settled
// exactly once, no process of the cluster left, and no key of a queue left
// in Redis but BullMQ's own bookkeeping.
import type { Future } from 'shmex';
import type { LocalCluster } from 'shmex/cluster';
import { descendants } from './processes.js';
import { keys } from './resp.js';

/** Counts the done callbacks of `futures`; read the counts once they should all have settled. */
export function settleCounts(futures: readonly Future<unknown>[]): () => number[] {
  const counts = futures.map(() => 0);
  futures.forEach((future, i) => {
    future.addDoneCallback(() => {
      counts[i]!++;
    });
    // The outcome is checked by the test; here only that it settles.
    Promise.resolve(future).catch(() => {});
  });
  return () => [...counts];
}

/** BullMQ's keys that stay while a queue exists, whatever its jobs did (ids, meta, event stream, its marker). */
const BOOKKEEPING = new Set(['id', 'meta', 'events', 'stalled-check', 'marker', 'pc']);

/** Keys of `queue` that are not bookkeeping: jobs, non-empty job lists, blobs (not machines' heartbeats). */
export async function leftoverKeys(port: number, queue: string): Promise<string[]> {
  const bull = (await keys(port, `bull:${queue}:*`)).filter(
    (key) => !BOOKKEEPING.has(key.slice(`bull:${queue}:`.length)),
  );
  const ours = (await keys(port, `shmex:${queue}:*`)).filter(
    (key) => !key.startsWith(`shmex:${queue}:machine:`),
  );
  return [...bull, ...ours];
}

/** The pids of the cluster's machines and of every process below them. */
export function clusterProcesses(cluster: LocalCluster): number[] {
  return cluster.machines.flatMap((m) => [m.pid, ...descendants(m.pid)]);
}

/** The pids of the pool processes of machine `pid`. */
export function poolOf(pid: number): number[] {
  return descendants(pid);
}
