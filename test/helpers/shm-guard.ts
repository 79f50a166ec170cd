// Every test file calls guardSharedMemory(). It gives the file a shared-memory
// directory of its own, /dev/shm/shmex-test-<pid>-XXXXXX, as SHMEX_SHM_DIR:
// shmex reads that variable wherever no directory is given, and the programs
// the file spawns inherit it, so every segment the file causes lands there
// and files can run side by side. After the file's tests, once garbage
// collection has returned dropped arrays and idle pooled segments have been
// trimmed, that directory must hold no segment at all (whoever made it: only
// this file's processes can reach it), and it is removed. /dev/shm itself
// must then hold no segment of this process or of a live descendant (a
// worker); segments there of dead processes cannot be told from those of
// other runs on the machine, so a test that makes them checks them itself.
//
// A file about /dev/shm itself (its default, its permissions) calls
// guardSharedMemory({ devShm: true }): SHMEX_SHM_DIR is unset and only the
// /dev/shm check applies.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { listSegmentNames, trimSharedMemory } from 'shmex';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export const DEV_SHM = '/dev/shm';
const PRIVATE_PREFIX = 'shmex-test-';

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

/** Whether `pid` is this process or a live descendant of it. */
function isFamily(pid: number): boolean {
  for (let at = pid, hops = 0; at > 1 && hops < 64; hops++) {
    if (at === process.pid) return true;
    const fields = stat(at);
    if (fields === undefined) return false;
    at = Number(fields[1]);
  }
  return false;
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

/** Collects garbage and waits a little for `pending()` to come back empty. */
async function settled(pending: () => string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let names = pending();
  while (names.length > 0 && Date.now() < deadline) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    names = pending();
  }
  return names;
}

/** Collects garbage and waits a little for holds to come back and names to go. */
export function segmentsSettled(ignore?: ReadonlySet<string>, timeoutMs = 5000): Promise<string[]> {
  return settled(() => ourSegments(ignore), timeoutMs);
}

/** Private directories of test processes that are gone (a run stopped with Ctrl-C): removed. */
function removeStaleDirectories(): void {
  for (const entry of readdirSync(DEV_SHM)) {
    const pid = /^shmex-test-(\d+)-/.exec(entry)?.[1];
    if (pid !== undefined && stat(Number(pid)) === undefined) {
      rmSync(join(DEV_SHM, entry), { recursive: true, force: true });
    }
  }
}

/**
 * The segments in `dir` once this process has trimmed its idle pooled ones,
 * and the adopter marks of dead workers (a live worker's is its parent's to
 * remove once it is gone; of a dead one, it is a leak).
 */
function trimmedList(dir: string): string[] {
  trimSharedMemory();
  const marks = readdirSync(dir).filter((name) => {
    if (!name.startsWith('shmex.') || !name.includes('.adopter.')) return false;
    const maker = ownerOf(name);
    return stat(maker.pid)?.[19] !== maker.start;
  });
  return [...listSegmentNames(dir), ...marks];
}

let privateDir: string | undefined;

/** This process's own shared-memory directory, made (and set as SHMEX_SHM_DIR) on first use. */
function ownDirectory(): string {
  if (privateDir === undefined) {
    removeStaleDirectories();
    privateDir = mkdtempSync(join(DEV_SHM, `${PRIVATE_PREFIX}${process.pid}-`));
    process.env.SHMEX_SHM_DIR = privateDir;
  }
  return privateDir;
}

export interface GuardOptions {
  /** The file is about /dev/shm itself: no directory of its own. @default false */
  devShm?: boolean;
}

export function guardSharedMemory(options: GuardOptions = {}): void {
  const dir = options.devShm === true ? undefined : ownDirectory();
  if (dir === undefined) delete process.env.SHMEX_SHM_DIR;
  let before_: Set<string> = new Set();
  before(() => {
    before_ = new Set(listSegmentNames(DEV_SHM));
  });
  after(async () => {
    const inDevShm = () =>
      trimmedList(DEV_SHM).filter((name) => !before_.has(name) && isFamily(ownerOf(name).pid));
    const leftHere = dir === undefined ? [] : await settled(() => trimmedList(dir), 5000);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(leftHere, [], `this test file left shmex segments in ${dir}`);
    assert.deepEqual(await settled(inDevShm, 5000), [], 'this test file left shmex segments in /dev/shm');
  });
}
