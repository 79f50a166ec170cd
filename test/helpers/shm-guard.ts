// Every test file calls guardSharedMemory(): after the file's tests, once
// garbage collection has returned dropped arrays and idle pooled segments
// have been trimmed, /dev/shm must hold no segment made by this process, its
// workers, or a process that died meanwhile. (Segments of other live
// processes are left alone, so two developers' runs on one machine do not
// fail each other; CI runs alone.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { listSegmentNames, trimSharedMemory } from 'shmex';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function ownerOf(name: string): { pid: number; start: string } {
  const [, pid, start] = name.split('.');
  return { pid: Number(pid), start: start! };
}

function stat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Segments this test process is answerable for and still holds (idle pooled ones are trimmed first). */
export function ourSegments(ignore: ReadonlySet<string> = new Set()): string[] {
  trimSharedMemory();
  return listSegmentNames().filter((name) => {
    if (ignore.has(name)) return false;
    const owner = ownerOf(name);
    if (owner.pid === process.pid) return true;
    const fields = stat(owner.pid);
    if (fields === undefined || fields[19] !== owner.start) return true; // its owner is dead
    return Number(fields[1]) === process.pid; // a live worker of ours
  });
}

/** Collects garbage and waits a little for holds to come back and names to go. */
export async function segmentsSettled(ignore?: ReadonlySet<string>, timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let names = ourSegments(ignore);
  while (names.length > 0 && Date.now() < deadline) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    names = ourSegments(ignore);
  }
  return names;
}

export function guardSharedMemory(): void {
  let before_: Set<string> = new Set();
  before(() => {
    before_ = new Set(listSegmentNames());
  });
  after(async () => {
    assert.deepEqual(await segmentsSettled(before_), [], 'this test file left shmex segments in /dev/shm');
  });
}
