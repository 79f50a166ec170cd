// The segments a process owns, kept mapped and recycled: a fresh segment
// costs page faults on every page (about 0.6 ms per MB here), an already
// faulted one only the copy. Segments come in size classes; a free one is
// reused by the next array of its class, and trimmed (unlinked and unmapped)
// after it has been idle for a while or when too many bytes sit idle.
import { SharedMemoryError } from '../errors.js';
import { MAPPING_WINDOW } from './mapping-window.js';
import { native } from './native.js';
import { newSegmentName } from './segment-names.js';
import type { SegmentStore } from './segment-store.js';

export interface PooledSegment {
  readonly name: string;
  /** The file's size, header included. */
  readonly capacity: number;
  /** This process's shared mapping of the whole file (its ArrayBuffer shows the first MAPPING_WINDOW bytes). */
  readonly mapping: ArrayBuffer;
  /** When it last became free (its holds are counted by the ledger, hold-ledger.ts). */
  idleSince: number;
  /**
   * Bytes from its start whose space is reserved (SegmentStore.create): the
   * data it was acquired for, page-rounded, and the most any holder needed.
   * Nothing is written past them; the rest of its capacity takes no memory.
   */
  reserved: number;
  /** Every byte is zero: a new file, or one zeroed as it became free (rezero). */
  zeroed: boolean;
  /**
   * Its last holder asked for zeros (a worker's `new X(n)`: worker/shared-arrays.ts), so the
   * next one likely will too: it is zeroed as it becomes free. A free arrives between tasks, so
   * the zeroing is done while the parent prepares the next task, not inside it.
   */
  rezero: boolean;
}

export interface SegmentPoolOptions {
  /** Free segments idle this long are trimmed. */
  idleMs: number;
  /** Free segments beyond this many bytes are trimmed at once, oldest first. */
  maxIdleBytes: number;
}

const MIN_CLASS = 64 * 1024;
/** Space is reserved in pages (tmpfs has 4 KiB pages here; a larger page only rounds up less). */
const PAGE = 4096;

/** Capacity for `bytes`: at least 64 KiB, else rounded up to an eighth of its power of two (<= 12.5% slack). */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const step = 2 ** Math.floor(Math.log2(bytes)) / 8;
  return Math.ceil(bytes / step) * step;
}

export class SegmentPool {
  readonly #store: SegmentStore;
  #options: SegmentPoolOptions;
  readonly #byName = new Map<string, PooledSegment>();
  /** Free segments by capacity, most recently freed last (warmest first out). */
  readonly #free = new Map<number, PooledSegment[]>();
  #idleBytes = 0;
  /** Counters for benchmarks and tests: segments created, reused and trimmed. */
  readonly stats = { created: 0, reused: 0, trimmed: 0 };
  #timer: NodeJS.Timeout | undefined;
  /** Called with the names of trimmed segments, so borrowers can drop their mappings. */
  onTrim: ((names: string[]) => void) | undefined;

  constructor(store: SegmentStore, options: SegmentPoolOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** New limits; idle segments beyond them go at once. */
  configure(options: SegmentPoolOptions): void {
    this.#options = options;
    if (this.#idleBytes > options.maxIdleBytes) this.#trimToBudget();
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#schedule();
    }
  }

  get(name: string): PooledSegment | undefined {
    return this.#byName.get(name);
  }

  /** Bytes held by free segments. */
  get idleBytes(): number {
    return this.#idleBytes;
  }

  /** Segments owned, free or not. */
  get size(): number {
    return this.#byName.size;
  }

  /** A segment of at least `bytes`, taken off the free list or made: its first hold is the caller's to count. */
  acquire(bytes: number): PooledSegment {
    const capacity = sizeClass(bytes);
    const reserve = Math.min(capacity, Math.ceil(bytes / PAGE) * PAGE);
    const reused = this.#free.get(capacity)?.pop();
    if (reused !== undefined) {
      this.#idleBytes -= capacity;
      if (reused.reserved >= reserve || this.#reserve(reused, reserve)) {
        this.stats.reused++;
        return reused;
      }
    }
    const name = newSegmentName();
    let mapping: ArrayBuffer;
    try {
      mapping = this.#store.create(name, capacity, reserve, MAPPING_WINDOW);
    } catch (error) {
      // Idle segments of other classes may be what fills the directory: give them back and try
      // once more. Unlinking alone does not free their space while a worker still maps them (it
      // caches what it was lent) until it hears of the trim: their pages are punched out first.
      if (error instanceof SharedMemoryError && error.errno === 'ENOSPC' && this.#idleBytes > 0) {
        this.reclaim();
        return this.acquire(bytes);
      }
      throw error;
    }
    this.stats.created++;
    const segment: PooledSegment = {
      name,
      capacity,
      mapping,
      reserved: reserve,
      idleSince: 0,
      zeroed: true,
      rezero: false,
    };
    this.#byName.set(name, segment);
    return segment;
  }

  /** More of a reused segment's space reserved; false (and the segment gone) if there is no room. */
  #reserve(segment: PooledSegment, bytes: number): boolean {
    try {
      this.#store.reserve(segment.name, bytes);
    } catch (error) {
      if (!(error instanceof SharedMemoryError)) throw error;
      // Made anew below, which makes room first if the directory is full.
      this.discard(segment);
      this.onTrim?.([segment.name]);
      return false;
    }
    segment.reserved = bytes;
    return true;
  }

  /** A free segment is held again: off the free list. */
  take(segment: PooledSegment): void {
    const list = this.#free.get(segment.capacity);
    const at = list?.indexOf(segment) ?? -1;
    if (at < 0) return;
    list!.splice(at, 1);
    this.#idleBytes -= segment.capacity;
  }

  /** Nothing holds the segment any more: onto the free list, to be reused or trimmed. */
  recycle(segment: PooledSegment): void {
    if (!this.#byName.has(segment.name)) return;
    if (segment.rezero && !segment.zeroed) {
      native.fill(segment.mapping, 0, segment.reserved);
      segment.zeroed = true;
    }
    segment.idleSince = Date.now();
    let list = this.#free.get(segment.capacity);
    if (list === undefined) {
      list = [];
      this.#free.set(segment.capacity, list);
    }
    list.push(segment);
    this.#idleBytes += segment.capacity;
    if (this.#idleBytes > this.#options.maxIdleBytes) this.#trimToBudget();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#idleBytes === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.trim(this.#options.idleMs);
      this.#schedule();
    }, this.#options.idleMs);
    this.#timer.unref();
  }

  #trimToBudget(): void {
    const free = [...this.#free.values()].flat().sort((a, b) => a.idleSince - b.idleSince);
    const doomed: PooledSegment[] = [];
    let bytes = this.#idleBytes;
    for (const segment of free) {
      if (bytes <= this.#options.maxIdleBytes) break;
      doomed.push(segment);
      bytes -= segment.capacity;
    }
    this.#destroy(doomed);
  }

  /** Unlinks and unmaps free segments idle for at least `olderThanMs`. */
  trim(olderThanMs: number): string[] {
    const cutoff = Date.now() - olderThanMs;
    const doomed = [...this.#free.values()].flat().filter((s) => s.idleSince <= cutoff);
    return this.#destroy(doomed);
  }

  /**
   * The directory is full: every free segment goes now, its pages punched
   * out first, since unlinking alone frees nothing while another process
   * still maps it (a borrower unmaps only once it hears of the trim).
   */
  reclaim(): string[] {
    return this.#destroy([...this.#free.values()].flat(), true);
  }

  /** Unlinks and unmaps free segments; `punch` frees their space now, even where others still map them. */
  #destroy(segments: PooledSegment[], punch = false): string[] {
    if (segments.length === 0) return [];
    for (const segment of segments) {
      if (punch) {
        try {
          native.discard(segment.mapping);
        } catch {
          // A file system without hole punching: its space comes back when the last mapping goes.
        }
      }
      const list = this.#free.get(segment.capacity);
      if (list !== undefined) {
        const at = list.indexOf(segment);
        if (at >= 0) {
          list.splice(at, 1);
          this.#idleBytes -= segment.capacity;
        }
      }
      this.#byName.delete(segment.name);
      this.#store.remove([segment.name]);
      native.release(segment.mapping);
    }
    const names = segments.map((s) => s.name);
    this.stats.trimmed += names.length;
    this.onTrim?.(names);
    return names;
  }

  /** Names of the segments this process owns: all, or only the free ones. */
  names(freeOnly = false): string[] {
    if (freeOnly) return [...this.#free.values()].flat().map((s) => s.name);
    return [...this.#byName.keys()];
  }

  /** A segment that could not be created or written is not worth keeping. */
  discard(segment: PooledSegment): void {
    this.#byName.delete(segment.name);
    this.#store.remove([segment.name]);
    native.release(segment.mapping);
  }
}
