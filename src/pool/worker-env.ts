// The environment a worker process starts with: the parent's, with glibc's
// allocator tuned for tasks that allocate large arrays (see tuning.ts,
// WORKER_MALLOC_TUNABLES). glibc reads GLIBC_TUNABLES once, as a process
// starts, so this is the only moment it can be set; other C libraries
// (musl) ignore the variable, and a glibc without a tunable ignores it.
import { WORKER_MALLOC_TUNABLES } from '../tuning.js';

/**
 * How the allocator of workers is set up: 'shared' is 'tuned', and large
 * typed arrays made in tasks go to shared memory (worker/shared-arrays.ts).
 * Threads share their process's C allocator: for them 'shared' is only the
 * second part, and 'tuned' is refused.
 */
export type WorkerAllocator = 'tuned' | 'shared' | 'default';

export const WORKER_ALLOCATORS: readonly WorkerAllocator[] = ['tuned', 'shared', 'default'];

/**
 * The `env` to fork a worker with, read from `env` at the moment it is
 * forked; undefined for 'default' (fork's own default: process.env as it is).
 * Ours come first in GLIBC_TUNABLES: glibc applies the entries in order, so a
 * tunable the user set wins over ours.
 */
export function workerEnv(
  allocator: WorkerAllocator,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv | undefined {
  if (allocator === 'default') return undefined;
  const own = env.GLIBC_TUNABLES;
  const tunables =
    own === undefined || own === '' ? WORKER_MALLOC_TUNABLES : `${WORKER_MALLOC_TUNABLES}:${own}`;
  return { ...env, GLIBC_TUNABLES: tunables };
}
