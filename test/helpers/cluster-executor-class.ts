// The shared suites (test/suites/) construct `new Executor({ maxWorkers })`.
// Bound to the cluster, each executor gets a LocalCluster of its own: one
// `shmex worker` machine with that many pool processes, taking that many
// jobs at once, on a queue of its own, so a task beyond them stays queued
// (cancellable) as in a local pool. Closing the executor closes its machine.
import { randomBytes } from 'node:crypto';
import type { ShutdownOptions } from 'shmex';
import { ClusterExecutor, LocalCluster } from 'shmex/cluster';
import type { ExecutorClass } from '../suites/executor-class.js';

export function clusterExecutorClass(url: () => string): ExecutorClass {
  class LocalClusterExecutor extends ClusterExecutor {
    readonly #cluster: Promise<LocalCluster>;
    constructor(options: { maxWorkers?: number } = {}) {
      const maxWorkers = options.maxWorkers ?? 2;
      const queue = `suite-${randomBytes(6).toString('hex')}`;
      super({ url: url(), queue, maxWorkers });
      this.#cluster = LocalCluster.start({
        url: url(),
        queue,
        machines: 1,
        maxWorkers,
        concurrency: maxWorkers,
      });
      this.#cluster.catch(() => {});
    }

    override async shutdown(options: ShutdownOptions = {}): Promise<void> {
      await super.shutdown(options);
      await (await this.#cluster).close();
    }
  }
  return LocalClusterExecutor as unknown as ExecutorClass;
}
