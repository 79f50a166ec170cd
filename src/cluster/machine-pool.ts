// The local ProcessPoolExecutor of a machine (`shmex worker`), and when it is
// replaced: after it broke (its processes die while starting), a bounded
// number of times in a row, past which the machine gives up; and when a task
// module's file changed (a pool process imports a module once and keeps it).
import { BrokenExecutorError } from '../errors.js';
import type { ProcessPoolExecutor } from '../executor.js';
import { RemoteStack } from '../transfer/remote-error.js';
import { CLUSTER_POOL_REBUILDS } from '../tuning.js';
import { MachinePoolBrokenError } from './errors.js';

/** The local pool broke (not a task's own error of that name: that comes with the worker's stack as cause). */
export function isBroken(error: unknown): error is BrokenExecutorError {
  return error instanceof BrokenExecutorError && !(error.cause instanceof RemoteStack);
}

export class MachinePool {
  #pool: ProcessPoolExecutor;
  readonly #makePool: () => ProcessPoolExecutor;
  readonly #machine: string;
  readonly #onGiveUp: (error: MachinePoolBrokenError) => void;
  /** Pools replaced in a row since one last ran a task. */
  #rebuilds = 0;
  #gaveUp: MachinePoolBrokenError | undefined;
  /** The digest of each module file as the current pool was given it (see useModuleVersion). */
  readonly #loadedModules = new Map<string, string>();

  /** `onGiveUp`: the pool broke too often in a row; the machine stops taking jobs. */
  constructor(
    makePool: () => ProcessPoolExecutor,
    machine: string,
    onGiveUp: (error: MachinePoolBrokenError) => void,
  ) {
    this.#makePool = makePool;
    this.#machine = machine;
    this.#onGiveUp = onGiveUp;
    this.#pool = makePool();
  }

  /** The pool tasks go to now. */
  get current(): ProcessPoolExecutor {
    return this.#pool;
  }

  /** Set once the pool broke too often in a row: no task runs here any more. */
  get gaveUp(): MachinePoolBrokenError | undefined {
    return this.#gaveUp;
  }

  /** `pool` ran a task: if it is still the current one, its breaks in a row are over. */
  ran(pool: ProcessPoolExecutor): void {
    if (pool === this.#pool) this.#rebuilds = 0;
  }

  /**
   * A pool process imports a module once and keeps it: once the file holds
   * another version than the pool's processes loaded, the pool is replaced
   * (its running tasks finish), so tasks run the file their digest names.
   */
  useModuleVersion(url: string, digest: string | undefined): void {
    if (digest === undefined) return;
    const loaded = this.#loadedModules.get(url);
    if (loaded !== undefined && loaded !== digest) {
      const old = this.#pool;
      this.#pool = this.#makePool();
      this.#loadedModules.clear();
      void old.shutdown({ wait: false }).catch(() => {});
    }
    this.#loadedModules.set(url, digest);
  }

  /** Replaces a broken pool (true), unless it broke too often in a row: the machine then gives up (false). */
  replace(broken: ProcessPoolExecutor, error: BrokenExecutorError): boolean {
    if (this.#gaveUp !== undefined) return false;
    if (broken !== this.#pool) return true; // another job replaced it already
    if (this.#rebuilds >= CLUSTER_POOL_REBUILDS) {
      this.#gaveUp = new MachinePoolBrokenError(this.#machine, this.#rebuilds, { cause: error });
      this.#onGiveUp(this.#gaveUp);
      return false;
    }
    this.#rebuilds++;
    this.#pool = this.#makePool();
    this.#loadedModules.clear();
    void broken.shutdown({ wait: false }).catch(() => {});
    return true;
  }
}
