// Removing segments left behind by processes that died before they could
// clean up. Only names of this project's pattern are ever touched.
import { lstatSync, readdirSync, rmdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { type AdopterMark, parseAdopterMark, removeAdopterMarks } from './adopter-marks.js';
import { adoptedSegmentNames } from './books.js';
import {
  isOwnerAlive,
  ownerPrefix,
  parseSegmentName,
  SEGMENT_PREFIX,
  type SegmentOwner,
  segmentNamesOf,
  selfOwner,
} from './segment-names.js';
import { defaultShmDir, SegmentStore } from './segment-store.js';

export interface ShmClearOptions {
  /** Also remove segments whose owner is alive (they may be in use!). @default false */
  all?: boolean;
  /** The shared-memory directory. @default $SHMEX_SHM_DIR, else '/dev/shm' */
  dir?: string;
}

/** Every name in `dir` that starts like a segment's (segments, adopter marks), or none if it cannot be read. */
function shmexEntries(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.startsWith(SEGMENT_PREFIX));
  } catch {
    return [];
  }
}

/** Names of this project's segments in `dir`. */
export function listSegmentNames(dir: string = defaultShmDir()): string[] {
  return shmexEntries(dir).filter((name) => parseSegmentName(name) !== undefined);
}

/**
 * A directory made for the machines of a LocalCluster (shmex/cluster):
 * `shmex-machine-<pid>.<start>-<random>`, named after the process that made
 * it, so that it can be swept once that process is dead.
 */
const MACHINE_DIR = /^shmex-machine-(\d{1,10})\.(\d{1,20})-[A-Za-z0-9]{6}$/;

/** The prefix (for mkdtemp) of a machine directory made by this process. */
export function machineDirPrefix(): string {
  const { pid, start } = selfOwner();
  return `shmex-machine-${pid}.${start}-`;
}

/**
 * Sweeps the machine directories in `dir` whose maker is dead (its machines
 * exit with it, and normally remove their directory as they do; a SIGKILL
 * of them all leaves it): the segments of dead processes in it, then the
 * directory if that left it empty. A live process's segment keeps it.
 */
function sweepMachineDirs(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const match = MACHINE_DIR.exec(entry);
    if (match === null || isOwnerAlive({ pid: Number(match[1]), start: match[2]! })) continue;
    const inner = join(dir, entry);
    shmClear({ dir: inner });
    try {
      rmdirSync(inner);
    } catch {
      // Not empty (a machine still exiting, or a file that is not a segment): left as it is.
    }
  }
}

/**
 * Removes leftover shmex segments and returns the names removed. By default
 * only segments whose creating process is dead; with `all`, every one.
 * Also sweeps the LocalCluster machine directories in it whose maker is dead.
 */
export function shmClear(options: ShmClearOptions = {}): string[] {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('shmClear(options): options must be an object such as { all: true }');
  }
  const store = new SegmentStore(options.dir ?? defaultShmDir());
  const alive = new Map<string, boolean>();
  const isAlive = (owner: SegmentOwner): boolean => {
    const key = `${owner.pid}.${owner.start}`;
    let known = alive.get(key);
    if (known === undefined) {
      known = isOwnerAlive(owner);
      alive.set(key, known);
    }
    return known;
  };
  const ownerAlive = (name: string): boolean => isAlive(parseSegmentName(name)!);
  // A dead worker's segments that this process adopted are in use, under both names.
  const adopted = adoptedSegmentNames();
  const entries = shmexEntries(store.dir);
  const names = entries.filter((name) => parseSegmentName(name) !== undefined);
  const marks = entries.flatMap((name) => {
    const mark = parseAdopterMark(name);
    return mark === undefined ? [] : [{ name, ...mark }];
  });
  const doomed = names.filter((name) => {
    if (adopted.has(name)) return false;
    if (options.all === true) return true;
    return (
      !ownerAlive(name) &&
      !toBeAdopted(store, name, marks, isAlive) &&
      !adoptedElsewhere(store, name, names, ownerAlive)
    );
  });
  store.remove(doomed);
  // A mark goes with its maker's segments: once maker and adopter are dead (with `all`: but ours).
  const self = selfOwner();
  const doomedMarks = marks.filter(({ maker, adopter }) =>
    options.all === true
      ? adopter.pid !== self.pid || adopter.start !== self.start
      : !isAlive(maker) && !isAlive(adopter),
  );
  removeAdopterMarks(
    store.dir,
    doomedMarks.map((mark) => mark.name),
  );
  sweepMachineDirs(store.dir);
  return doomed;
}

/**
 * Whether a dead owner's segment is still to be adopted: a mark names the
 * owner's parent as its adopter (see adopter-marks.ts), that parent lives,
 * and the mark belongs to the segment's user (no one else can keep it).
 */
function toBeAdopted(
  store: SegmentStore,
  name: string,
  marks: readonly (AdopterMark & { name: string })[],
  isAlive: (owner: SegmentOwner) => boolean,
): boolean {
  const owner = parseSegmentName(name)!;
  const mine = marks.filter(({ maker }) => maker.pid === owner.pid && maker.start === owner.start);
  if (mine.length === 0) return false;
  const uid = (file: string): number | undefined => {
    try {
      const stat = lstatSync(join(store.dir, file));
      return stat.isFile() ? stat.uid : undefined;
    } catch {
      return undefined;
    }
  };
  const segmentUid = uid(name);
  return mine.some(
    (mark) => isAlive(mark.adopter) && segmentUid !== undefined && uid(mark.name) === segmentUid,
  );
}

/**
 * Whether a dead owner's segment was adopted by a live process: it is then
 * hard-linked under a name of that process, and its former name may still
 * be named by tasks queued there.
 */
function adoptedElsewhere(
  store: SegmentStore,
  name: string,
  names: readonly string[],
  ownerAlive: (name: string) => boolean,
): boolean {
  let stat: Stats;
  try {
    stat = lstatSync(store.path(name));
  } catch {
    return false;
  }
  if (stat.nlink < 2) return false;
  return names.some((other) => {
    if (other === name || !ownerAlive(other)) return false;
    try {
      const o = lstatSync(store.path(other));
      return o.ino === stat.ino && o.dev === stat.dev;
    } catch {
      return false;
    }
  });
}

/** Removes every segment created by one (dead) process, and its adopter mark. */
export function removeSegmentsOf(owner: SegmentOwner, store: SegmentStore): string[] {
  const adopted = adoptedSegmentNames();
  const entries = shmexEntries(store.dir);
  const names = segmentNamesOf(
    owner,
    entries.filter((name) => parseSegmentName(name) !== undefined),
  ).filter((name) => !adopted.has(name));
  store.remove(names);
  const prefix = ownerPrefix(owner);
  removeAdopterMarks(
    store.dir,
    entries.filter((name) => name.startsWith(prefix)),
  );
  return names;
}
