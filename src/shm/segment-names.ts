// Segment names: `shmex.<pid>.<start>.<random>`. The pid and the process's
// start time (clock ticks since boot, from /proc) let a sweep tell a live
// owner from a dead one even after the pid was reused; the random part makes
// names unguessable.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SharedMemoryError } from '../errors.js';

export const SEGMENT_PREFIX = 'shmex.';
const NAME_PATTERN = /^shmex\.(\d{1,10})\.(\d{1,20})\.([0-9a-f]{24})$/;

export interface SegmentOwner {
  pid: number;
  start: string;
}

/** The fields of /proc/<pid>/stat after the command name, or undefined if there is no such process. */
function procStat(pid: number | 'self'): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may hold spaces and parentheses: fields resume after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Start time of a process in clock ticks since boot, or undefined if it does not exist. */
export function processStartTime(pid: number | 'self'): string | undefined {
  return procStat(pid)?.[19];
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

/** The owner a segment name names, or undefined for anything that is not a shmex segment name. */
export function parseSegmentName(name: string): SegmentOwner | undefined {
  if (typeof name !== 'string') return undefined;
  const match = NAME_PATTERN.exec(name);
  if (match === null) return undefined;
  return { pid: Number(match[1]), start: match[2]! };
}

/** A name as an error message shows it: quoted, escaped (NUL, '/', control characters), and cut short. */
export function showName(name: unknown): string {
  if (typeof name !== 'string') return `a ${name === null ? 'null' : typeof name}, not a string`;
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name);
  return name.length > 80 ? `${shown} (${name.length} characters)` : shown;
}

/**
 * Checks a name that came from elsewhere (another process's payload) before
 * it is joined to the shared-memory directory: only `shmex.<pid>.<start>.<24
 * hex digits>` passes, so no '/', '..', NUL or other file can be reached.
 */
export function requireSegmentName(name: unknown): SegmentOwner {
  const owner = parseSegmentName(name as string);
  if (owner === undefined) {
    throw new SharedMemoryError(
      `refusing the shared-memory segment name ${showName(name)}: not a shmex segment name ` +
        "('shmex.<pid>.<start>.<24 hex digits>')",
      undefined,
      'EINVAL',
    );
  }
  return owner;
}

/** Whether the process that made segments under `owner` still runs (a zombie does not: it maps nothing). */
export function isOwnerAlive(owner: SegmentOwner): boolean {
  const fields = procStat(owner.pid);
  return fields !== undefined && fields[19] === owner.start && fields[0] !== 'Z' && fields[0] !== 'X';
}

export function segmentNamesOf(owner: SegmentOwner, names: readonly string[]): string[] {
  const prefix = `${SEGMENT_PREFIX}${owner.pid}.${owner.start}.`;
  return names.filter((name) => name.startsWith(prefix));
}
