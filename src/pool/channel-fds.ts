// Where a worker process's channel lies among its file descriptors: one pipe
// each way (see frames.ts). Node's IPC channel stays (fork() requires it) for
// the lifecycle alone: a worker leaving a live parent knows it by it.
import type { StdioOptions } from 'node:child_process';

/** The parent writes frames here; the worker reads them. */
export const TO_WORKER_FD = 3;
/** The worker writes frames here; the parent reads them. */
export const FROM_WORKER_FD = 4;

export const CHANNEL_STDIO: StdioOptions = ['inherit', 'inherit', 'inherit', 'pipe', 'pipe', 'ipc'];
