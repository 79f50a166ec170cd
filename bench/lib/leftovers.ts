// The end of a run: no shmex segment of this run may be left in /dev/shm.
import { readFileSync } from 'node:fs';
import { listSegmentNames, trimSharedMemory } from 'shmex';
import { gc, sleep } from './gc.js';

/** Whether the process that made a segment (name shmex.<pid>.<start>.<random>) is still alive. */
function ownerAlive(name: string): boolean {
  const [, pid, start] = name.split('.');
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] === start;
  } catch {
    return false;
  }
}

/**
 * Segments made during the run (not in `before`) by this process or by a
 * process that has died since (our workers), after collecting garbage and
 * trimming idle segments, waiting up to `timeoutMs` for them to go.
 */
export async function leftoverSegments(before: ReadonlySet<string>, timeoutMs = 5000): Promise<string[]> {
  const ours = () => {
    trimSharedMemory();
    return listSegmentNames().filter(
      (name) => !before.has(name) && (name.split('.')[1] === String(process.pid) || !ownerAlive(name)),
    );
  };
  const deadline = Date.now() + timeoutMs;
  let names = ours();
  while (names.length > 0 && Date.now() < deadline) {
    gc();
    await sleep(50);
    names = ours();
  }
  return names;
}
