// Adopter marks: an empty file per worker process, `shmex.<pid>.<start>.
// adopter.<ppid>.<pstart>`, made by its parent's book when the worker joins
// it. When a worker dies, its parent adopts the segments it still needs only
// once it has read the worker's last messages (after the exit, the pipes'
// close); until then the segments carry only the dead worker's name, and a
// sweep by any other process would see their maker dead. The mark tells the
// sweep that a live process is to adopt or remove them: a dead owner's
// segments stay while the adopter its mark names lives.
//
// A mark starts with the worker's prefix, so whatever removes the worker's
// names by prefix takes it too: its parent once the worker is gone
// (removeSegmentsOf, at the worker's end and at the parent's exit), the
// worker's parent-death handler (native/shm.c) if the parent dies first, and
// a sweep once both are dead. It is not a segment name: nothing maps it,
// listSegmentNames() and `shmex ls` do not show it.
import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type SegmentOwner, selfOwner } from './segment-names.js';

const MARK_PATTERN = /^shmex\.(\d{1,10})\.(\d{1,20})\.adopter\.(\d{1,10})\.(\d{1,20})$/;

export interface AdopterMark {
  /** The worker whose segments are to be adopted. */
  maker: SegmentOwner;
  /** The process that adopts them: the worker's parent. */
  adopter: SegmentOwner;
}

export function parseAdopterMark(name: string): AdopterMark | undefined {
  const match = MARK_PATTERN.exec(name);
  if (match === null) return undefined;
  return {
    maker: { pid: Number(match[1]), start: match[2]! },
    adopter: { pid: Number(match[3]), start: match[4]! },
  };
}

export function adopterMarkName({ maker, adopter }: AdopterMark): string {
  return `shmex.${maker.pid}.${maker.start}.adopter.${adopter.pid}.${adopter.start}`;
}

/** The parent pid and start time of a process, or undefined if there is none (reaped). */
function parentAndStart(pid: number): { ppid: number; start: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), start: fields[19]! };
}

/**
 * Marks this process as the adopter of `pid`'s segments in `dir`, if `pid`
 * is a child process of this one (a worker; a peer that is this process's
 * parent, or a thread of it, is not). A child that died already is still
 * there (a zombie: this process has not reaped it, which needs its event
 * loop). Returns the mark's name, or undefined if none was made: without a
 * mark the worker's segments are only as safe from sweeps as before.
 */
export function markAdopter(dir: string, pid: number): string | undefined {
  const self = selfOwner();
  if (pid === self.pid) return undefined;
  const child = parentAndStart(pid);
  if (child === undefined || child.ppid !== self.pid) return undefined;
  const name = adopterMarkName({
    maker: { pid, start: child.start },
    adopter: { pid: self.pid, start: self.start },
  });
  try {
    // O_EXCL: never someone else's file, nor through a symbolic link; an existing mark is this one.
    closeSync(openSync(join(dir, name), 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  return name;
}

/** Removes marks (names that are not marks are skipped, as are marks already gone). */
export function removeAdopterMarks(dir: string, names: Iterable<string>): void {
  for (const name of names) {
    if (parseAdopterMark(name) === undefined) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // Gone already, or not ours to remove: sweeps take what is left.
    }
  }
}
