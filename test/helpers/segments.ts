// Looking at the shared-memory directory from a test without changing anything: which shmex
// segments exist now that this process or one of its live workers made
// (unlike ourSegments() in shm-guard.ts, nothing is trimmed first), and a
// full garbage collection for tests that drop arrays on purpose.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { listSegmentNames } from 'shmex';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** A full garbage collection; FinalizationRegistry callbacks run on a later turn (see settle()). */
export function gc(): void {
  collect();
}

/** Lets finalizers, IPC messages and timers already due run. */
export function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The pid in a segment name `shmex.<pid>.<start>.<random>`. */
export function ownerPid(name: string): number {
  return Number(name.split('.')[1]);
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Segments made by this process, now. */
export function ownSegments(): string[] {
  return listSegmentNames().filter((name) => ownerPid(name) === process.pid);
}

/** Segments made by this process or by a live child of it (a worker), now. */
export function familySegments(): string[] {
  return listSegmentNames().filter((name) => {
    const pid = ownerPid(name);
    return pid === process.pid || parentPid(pid) === process.pid;
  });
}

/** Segments made by process `pid`, now (in `dir`, default the file's own directory). */
export function segmentsOf(pid: number, dir?: string): string[] {
  return listSegmentNames(dir).filter((name) => ownerPid(name) === pid);
}

/** Polls `condition` (collecting garbage between tries) until it holds or `timeoutMs` has passed; returns whether it held. */
export async function eventually(
  condition: () => boolean,
  timeoutMs = 10_000,
  collectGarbage = false,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() > deadline) return false;
    if (collectGarbage) gc();
    await tick(20);
  }
}

export interface Owner {
  pid: number;
  start: string;
}

/** pid and start time (field 22 of /proc/<pid>/stat) out of a stat line. */
function parseStat(text: string): Owner {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid: Number.parseInt(text, 10), start: fields[19]! };
}

/** This process as a segment owner. */
export const self: Owner = parseStat(readFileSync('/proc/self/stat', 'latin1'));

/** A process that has exited: `cat` prints its own stat line, then is waited for. */
export function deadOwner(): Owner {
  const cat = spawnSync('cat', ['/proc/self/stat'], { encoding: 'latin1' });
  assert.equal(cat.status, 0);
  const owner = parseStat(cat.stdout);
  assert.ok(owner.pid > 0 && /^\d+$/.test(owner.start));
  return owner;
}

/** A segment name of `owner`, as shmex would make one. */
export function segmentName(owner: Owner): string {
  return `shmex.${owner.pid}.${owner.start}.${randomBytes(12).toString('hex')}`;
}
