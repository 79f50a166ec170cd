// Segment names: `shmex.<pid>.<start>.<random>`. The pid and the process's
// start time (clock ticks since boot, from /proc) let a sweep tell a live
// owner from a dead one even after the pid was reused; the random part makes
// names unguessable.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const SEGMENT_PREFIX = 'shmex.';
const NAME_PATTERN = /^shmex\.(\d{1,10})\.(\d{1,20})\.([0-9a-f]{24})$/;

export interface SegmentOwner {
  pid: number;
  start: string;
}

/** Start time of a process in clock ticks since boot, or undefined if it does not exist. */
export function processStartTime(pid: number | 'self'): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may hold spaces and parentheses: fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

let self: SegmentOwner | undefined;
/** This process as a segment owner (recomputed after fork is not needed: workers are spawned, not forked). */
export function selfOwner(): SegmentOwner {
  if (self === undefined || self.pid !== process.pid) {
    self = { pid: process.pid, start: processStartTime('self') ?? '0' };
  }
  return self;
}

export function newSegmentName(owner: SegmentOwner = selfOwner()): string {
  return `${SEGMENT_PREFIX}${owner.pid}.${owner.start}.${randomBytes(12).toString('hex')}`;
}

export function parseSegmentName(name: string): SegmentOwner | undefined {
  const match = NAME_PATTERN.exec(name);
  if (match === null) return undefined;
  return { pid: Number(match[1]), start: match[2]! };
}

export function isOwnerAlive(owner: SegmentOwner): boolean {
  return processStartTime(owner.pid) === owner.start;
}

export function segmentNamesOf(owner: SegmentOwner, names: readonly string[]): string[] {
  const prefix = `${SEGMENT_PREFIX}${owner.pid}.${owner.start}.`;
  return names.filter((name) => name.startsWith(prefix));
}
