// Segment names: `shmex.<pid>.<start>.<random>`, or, for a segment made by a
// worker thread, `shmex.<pid>.<start>.t<threadId>.<random>`. The pid and the
// process's start time (clock ticks since boot, from /proc) let a sweep tell
// a live owner from a dead one even after the pid was reused; the random part
// makes names unguessable. A thread's names start with its process's prefix,
// so whatever sweeps a process by prefix (a sweep, removeSegmentsOf, the
// native parent-death handler) takes its threads' segments too, while the
// thread part tells the pool which thread to route holds to, and which names
// go when that thread dies.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
import { SharedMemoryError } from '../errors.js';

export const SEGMENT_PREFIX = 'shmex.';
const NAME_PATTERN = /^shmex\.(\d{1,10})\.(\d{1,20})\.(?:t([1-9]\d{0,9})\.)?([0-9a-f]{24})$/;

export interface SegmentOwner {
  pid: number;
  start: string;
  /** The worker thread that made the segments (its threadId); absent for a process's main thread. */
  thread?: number;
}

/** Pids are below 2^22 on Linux (pid_max's limit): keys of threads of different processes never meet. */
const PID_SPAN = 2 ** 22;

/**
 * One number per owner, for the hold ledger, which routes holds by owner:
 * the pid for a process's main thread, and a number above every pid for a
 * worker thread (threadIds stay far below 2^31, so keys stay exact integers).
 */
export function ownerKey(owner: { pid: number; thread?: number | undefined }): number {
  return owner.pid + (owner.thread ?? 0) * PID_SPAN;
}

/** The owner key (see ownerKey) of a segment name, or undefined for anything that is not one. */
export function segmentOwnerKey(name: string): number | undefined {
  const owner = parseSegmentName(name);
  return owner === undefined ? undefined : ownerKey(owner);
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
/**
 * This thread of this process as a segment owner (recomputed after fork is
 * not needed: workers are spawned, not forked). Every thread other than the
 * main one names its own: its segments are its own to recycle, and its
 * process's other threads must be able to tell them apart.
 */
export function selfOwner(): SegmentOwner {
  if (self === undefined || self.pid !== process.pid) {
    const start = processStartTime('self') ?? '0';
    self = isMainThread ? { pid: process.pid, start } : { pid: process.pid, start, thread: threadId };
  }
  return self;
}

/** What every name of `owner` starts with; a process's prefix covers its threads' names too. */
export function ownerPrefix(owner: SegmentOwner): string {
  const thread = owner.thread === undefined ? '' : `t${owner.thread}.`;
  return `${SEGMENT_PREFIX}${owner.pid}.${owner.start}.${thread}`;
}

export function newSegmentName(owner: SegmentOwner = selfOwner()): string {
  return `${ownerPrefix(owner)}${randomBytes(12).toString('hex')}`;
}

/** The owner a segment name names, or undefined for anything that is not a shmex segment name. */
export function parseSegmentName(name: string): SegmentOwner | undefined {
  if (typeof name !== 'string') return undefined;
  const match = NAME_PATTERN.exec(name);
  if (match === null) return undefined;
  const owner: SegmentOwner = { pid: Number(match[1]), start: match[2]! };
  if (match[3] !== undefined) owner.thread = Number(match[3]);
  return owner;
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
 * hex digits>` (or `shmex.<pid>.<start>.t<threadId>.<24 hex digits>`)
 * passes, so no '/', '..', NUL or other file can be reached.
 */
export function requireSegmentName(name: unknown): SegmentOwner {
  const owner = parseSegmentName(name as string);
  if (owner === undefined) {
    throw new SharedMemoryError(
      `refusing the shared-memory segment name ${showName(name)}: not a shmex segment name ` +
        "('shmex.<pid>.<start>.<24 hex digits>', or 'shmex.<pid>.<start>.t<thread>.<24 hex digits>')",
      undefined,
      'EINVAL',
    );
  }
  return owner;
}

/**
 * Whether the process that made segments under `owner` still runs (a zombie
 * does not: it maps nothing). A thread's segments count as its process's: a
 * thread that died is the business of its process, which removes its names.
 */
export function isOwnerAlive(owner: SegmentOwner): boolean {
  const fields = procStat(owner.pid);
  return fields !== undefined && fields[19] === owner.start && fields[0] !== 'Z' && fields[0] !== 'X';
}

/** The names of `owner`: for a process, its threads' too. */
export function segmentNamesOf(owner: SegmentOwner, names: readonly string[]): string[] {
  const prefix = ownerPrefix(owner);
  return names.filter((name) => name.startsWith(prefix));
}
