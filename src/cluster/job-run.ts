// What a machine does with a job once its arguments are decoded: runs its
// task (or each task of a batch, or each of a map's chunk) on the local
// pool, replacing a pool that broke, and uploads the result under the
// submitter's keys (large arrays as blobs, with the job's time-to-live).
import { CancelledError } from '../errors.js';
import type { TaskRunner } from '../executor.js';
import type { TaskLimits } from '../pool/worker-pool.js';
import type { ModuleFunction } from '../task-ref.js';
import { CLUSTER_INLINE_BYTES } from '../tuning.js';
import type { BatchOutcome } from './batch.js';
import { BlobStore } from './blob-store.js';
import { explainUnregistered } from './errors.js';
import { encodeError, type JobData, type JobResult } from './job-codec.js';
import { carryMessage } from './job-message.js';
import type { AnyFunction } from './job-task.js';
import { blobPrefix } from './keys.js';
import { isBroken, type MachinePool } from './machine-pool.js';
import type { Redis } from './peers.js';
import { encodeValue } from './value-codec.js';

/**
 * Runs a job's tasks on the machine's pool; a pool that broke is replaced
 * and the tasks run again. Returns the job's result, or undefined if the
 * machine gave up on its pool (the job then goes back to the queue).
 */
export async function runOnPool(
  pools: MachinePool,
  fn: AnyFunction | ModuleFunction,
  args: unknown[],
  data: JobData,
  limits: TaskLimits,
  machine: string,
): Promise<{ value: unknown } | undefined> {
  for (;;) {
    const pool = pools.current;
    const runner: TaskRunner = Object.keys(limits).length > 0 ? pool.withOptions(limits) : pool;
    const submit = async (list: unknown[]) => runner.submit(fn as ModuleFunction, ...list);
    try {
      let value: unknown;
      if (data.batch === true) {
        const skip = new Set(data.cancelled ?? []);
        const settled = await Promise.allSettled(
          (args as unknown[][]).map((list, i) =>
            skip.has(i) ? Promise.reject(new CancelledError()) : submit(list),
          ),
        );
        const broken = settled.find((s) => s.status === 'rejected' && isBroken(s.reason));
        if (broken !== undefined) throw (broken as PromiseRejectedResult).reason;
        value = settled.map(
          (s): BatchOutcome =>
            s.status === 'fulfilled'
              ? { ok: true, value: s.value }
              : { ok: false, error: encodeError(explainUnregistered(s.reason, machine), machine) },
        );
      } else {
        value = data.chunk
          ? await Promise.all((args as unknown[][]).map((list) => submit(list)))
          : await submit(args);
      }
      pools.ran(pool);
      return { value };
    } catch (error) {
      if (!isBroken(error)) throw error;
      if (!pools.replace(pool, error)) return undefined;
    }
  }
}

/**
 * Uploads a job's result under its submitter's keys. `owned`: the arrays of
 * the job, given back when it ends; the result's arrays uploaded as blobs
 * join them.
 */
export async function uploadResult(
  redis: Redis,
  queue: string,
  jobId: string | undefined,
  data: JobData,
  result: unknown,
  owned: unknown[],
  machine: string,
): Promise<JobResult> {
  const keyPrefix = `${blobPrefix(queue, data.submitter)}r${jobId}.${Date.now().toString(36)}.`;
  const encoded = await encodeValue(result, {
    store: new BlobStore(redis, data.ttl),
    keyPrefix,
    threshold: CLUSTER_INLINE_BYTES,
    uploaded: owned as object[],
  });
  const value = await carryMessage(
    redis,
    `${keyPrefix}message`,
    encoded.message,
    data.ttl,
    "a task's result",
  );
  return {
    ok: true,
    value: value.text,
    ...(value.key === undefined ? {} : { valueKey: value.key }),
    blobs: encoded.blobs,
    machine,
  };
}
