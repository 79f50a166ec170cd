// The Future, map and waiting suites shared by ProcessPoolExecutor and
// ThreadPoolExecutor, bound to ClusterExecutor through LocalCluster (see
// test/helpers/cluster-executor-class.ts), on a redis-server of this file's own.
import { test } from 'node:test';
import { clusterExecutorClass } from './helpers/cluster-executor-class.js';
import { useRedis } from './helpers/local-cluster.js';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { documentedDifferences } from './suites/differences.js';
import { futuresSuite } from './suites/futures.js';
import { mapSuite } from './suites/map.js';
import { mapToArraySuite } from './suites/map-to-array.js';
import { waitingSuite } from './suites/waiting.js';

guardSharedMemory();

const local = useRedis();
if (local.skip !== undefined) {
  test('the shared suites on ClusterExecutor', { skip: local.skip }, () => {});
} else {
  const Executor = clusterExecutorClass(() => local.redis.url);
  const label = ' (cluster)';
  documentedDifferences({
    'cancelling a queued task frees its shared-memory argument at once':
      "a cluster task's arguments are blobs in Redis, not segments of this machine (docs/cluster.md)",
  });
  futuresSuite(Executor, label);
  mapSuite(Executor, label);
  mapToArraySuite(Executor, label);
  waitingSuite(Executor, label);
}
