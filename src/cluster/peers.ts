// bullmq and ioredis are optional peer dependencies: loaded only by
// shmex/cluster, with an error naming what to install when missing.
import type * as BullMQ from 'bullmq';
import type * as IORedis from 'ioredis';
import { importPeer } from '../adapters/peer.js';

export type { BullMQ, IORedis };

export const bullmq = await importPeer<typeof BullMQ>('bullmq', 'shmex/cluster');
export const ioredis = await importPeer<typeof IORedis>('ioredis', 'shmex/cluster');

export type Redis = IORedis.Redis;

/** A connection for commands that must fail fast (not wait forever) while Redis is away. */
export function connect(url: string, name: string, blocking = false): Redis {
  return new ioredis.Redis(url, {
    connectionName: name,
    // BullMQ's blocking connections (workers, events) must retry forever; ours fail fast.
    maxRetriesPerRequest: blocking ? null : 1,
    enableOfflineQueue: blocking,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    lazyConnect: false,
  });
}
