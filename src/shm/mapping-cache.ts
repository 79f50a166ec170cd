// Shared mappings of other processes' segments, kept by name: an owner that
// lends a segment again (a recycled one) costs the receiver neither mmap nor
// page faults. How many arrays live in each is counted by the ledger
// (hold-ledger.ts, views); this keeps the mappings and their names.
import { MAPPING_WINDOW } from './mapping-window.js';
import { native } from './native.js';
import { newSegmentName, segmentOwnerKey } from './segment-names.js';
import type { SegmentStore } from './segment-store.js';

export interface CachedMapping {
  /** The segment's name now (an adopted segment has a second name, ours). */
  name: string;
  mapping: ArrayBuffer;
  /** The owner trimmed the segment (or died): unmap once the last array in it is gone. */
  doomed: boolean;
  /**
   * Set once adopted: its owner died while we still needed it, and it was
   * hard-linked under `name`, ours; this is the name it had, kept for tasks
   * already encoded with it.
   */
  formerName?: string;
}

export class MappingCache {
  readonly #store: SegmentStore;
  readonly #byName = new Map<string, CachedMapping>();

  constructor(store: SegmentStore) {
    this.#store = store;
  }

  get(name: string): CachedMapping | undefined {
    return this.#byName.get(name);
  }

  /** The cached mapping of `name`, mapped whole now if it is not cached yet (its ArrayBuffer shows MAPPING_WINDOW bytes). */
  open(name: string, capacity: number): CachedMapping {
    let entry = this.#byName.get(name);
    if (entry === undefined) {
      const whole = { start: 0, length: capacity };
      entry = {
        name,
        mapping: this.#store.attach(name, 0, capacity, false, whole, MAPPING_WINDOW),
        doomed: false,
      };
      this.#byName.set(name, entry);
    }
    return entry;
  }

  /** The cached names of segments of the owner key `pid` (see ownerKey), with their mappings. */
  ofOwner(pid: number): [string, CachedMapping][] {
    return [...this.#byName].filter(([name]) => segmentOwnerKey(name) === pid);
  }

  /** No longer cached (its owner trimmed it, or died); unmapped now unless `views` arrays still live in it. */
  uncache(name: string, entry: CachedMapping, views: number): void {
    this.#byName.delete(name);
    entry.doomed = true;
    if (views === 0) native.release(entry.mapping);
  }

  /**
   * Its owner died: a hard link under a name of ours, so sweeps see a live
   * owner and it can still be passed to tasks by name; the former name stays
   * too. False if the file is gone already (the arrays stay readable, but can
   * no longer be passed on by name).
   */
  adopt(name: string, entry: CachedMapping): boolean {
    const adopted = newSegmentName();
    try {
      this.#store.link(name, adopted);
    } catch {
      this.#byName.delete(name);
      entry.doomed = true;
      return false;
    }
    entry.formerName = name;
    entry.name = adopted;
    this.#byName.set(adopted, entry);
    return true;
  }

  /** An adopted segment nothing needs any more: both names go, and the mapping. */
  removeAdopted(names: readonly string[]): void {
    const entry = this.#byName.get(names[0]!) ?? this.#byName.get(names[1]!);
    for (const name of names) this.#byName.delete(name);
    this.#store.remove(names);
    if (entry !== undefined) native.release(entry.mapping);
  }
}
