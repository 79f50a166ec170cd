// The setup a cluster test file shares: a redis-server of the file's own
// (skipped, with the reason, where redis-server is missing) and, for most
// files, a LocalCluster on it. The hooks are registered at the top level; the
// returned getters are read inside tests, once `before` has run. At the end
// every process of the cluster (and any a test tracked) must be gone.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { LocalCluster, type LocalClusterOptions } from 'shmex/cluster';
import { clusterProcesses } from './cluster-checks.js';
import { waitGone } from './processes.js';
import { type RedisOptions, type RedisServer, redisAvailable, startRedis } from './redis-server.js';

export interface RedisFixture {
  /** Why the file's tests skip (redis-server missing), or undefined. */
  readonly skip: string | undefined;
  readonly redis: RedisServer;
}

export interface LocalClusterFixture extends RedisFixture {
  readonly cluster: LocalCluster;
  /** Pids to wait for at the end besides the cluster's (machines a test killed and their children). */
  track(...pids: number[]): void;
}

export interface UseLocalClusterOptions extends Omit<LocalClusterOptions, 'url'> {
  redis?: RedisOptions;
  /** Checks run once the cluster has closed, before Redis stops. */
  afterClose?: () => Promise<void>;
}

function fixtureValue<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new Error(`${what} is not started: read it inside a test that is not skipped`);
  return value;
}

/** A redis-server for the file, started in `before` and stopped in `after`. */
export function useRedis(options: RedisOptions = {}): RedisFixture {
  const skip = redisAvailable();
  let redis: RedisServer | undefined;
  before(async () => {
    if (skip === undefined) redis = await startRedis(options);
  });
  after(async () => {
    await redis?.stop();
  });
  return {
    skip,
    get redis() {
      return fixtureValue(redis, 'redis');
    },
  };
}

/** A redis-server and a LocalCluster on it for the file; at the end, none of its processes may be left. */
export function useLocalCluster(options: UseLocalClusterOptions = {}): LocalClusterFixture {
  const { redis: redisOptions, afterClose, ...clusterOptions } = options;
  const skip = redisAvailable();
  let redis: RedisServer | undefined;
  let cluster: LocalCluster | undefined;
  const tracked: number[] = [];
  before(async () => {
    if (skip !== undefined) return;
    redis = await startRedis(redisOptions);
    cluster = await LocalCluster.start({ ...clusterOptions, url: redis.url });
  });
  after(async () => {
    try {
      if (cluster !== undefined) {
        const pids = [...tracked, ...clusterProcesses(cluster)];
        await cluster.close();
        assert.deepEqual(await waitGone(pids), [], 'processes of the cluster outlived it');
        const dirs = cluster.machines.map((m) => m.shmDir).filter((dir) => existsSync(dir));
        assert.deepEqual(dirs, [], 'shared-memory directories of the machines outlived them');
        await afterClose?.();
      }
    } finally {
      await redis?.stop();
    }
  });
  return {
    skip,
    get redis() {
      return fixtureValue(redis, 'redis');
    },
    get cluster() {
      return fixtureValue(cluster, 'cluster');
    },
    track(...pids: number[]) {
      tracked.push(...pids);
    },
  };
}
