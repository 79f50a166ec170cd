// Jobs nobody came back for. A submitter removes each job once it has read
// its result; one that died (SIGKILL, a lost host) never will, and BullMQ
// keeps finished jobs (with their inline arguments and results) for ever.
// So every machine, on its heartbeat, removes the oldest finished jobs whose
// time-to-live (the job's own `ttl`, that of its arrays) has passed since
// they finished: a dead submitter leaves nothing behind after it.
import type { JobData } from './job-codec.js';
import type { BullMQ } from './peers.js';

/** Finished jobs looked at per state and heartbeat, oldest first. */
const SWEEP_BATCH = 50;

/** Removes finished jobs older than their time-to-live; resolves with how many. */
export async function sweepFinishedJobs(queue: BullMQ.Queue, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const state of ['completed', 'failed'] as const) {
    const jobs = await queue.getJobs([state], 0, SWEEP_BATCH - 1, true);
    for (const job of jobs) {
      const ttl = (job.data as Partial<JobData> | undefined)?.ttl;
      if (job.finishedOn === undefined || typeof ttl !== 'number' || job.finishedOn + ttl > now) continue;
      // Another machine may remove it first: that is fine.
      await job.remove().then(
        () => removed++,
        () => {},
      );
    }
  }
  return removed;
}
