// The Redis keys shmex/cluster writes besides BullMQ's own: blobs under the
// submitting executor's id (so one executor's keys can be found and all
// expire together), machine heartbeats, and the channel of cancel requests.

export function blobPrefix(queue: string, submitter: string): string {
  return `shmex:${queue}:blob:${submitter}:`;
}

export function allBlobsPattern(queue: string): string {
  return `shmex:${queue}:blob:*`;
}

export function machineKey(queue: string, name: string): string {
  return `shmex:${queue}:machine:${name}`;
}

export function allMachinesPattern(queue: string): string {
  return `shmex:${queue}:machine:*`;
}

export function cancelChannel(queue: string): string {
  return `shmex:${queue}:cancel`;
}
