// Which ArrayBuffer of this process lives in which segment, and the
// finalizers that report an array gone: each one held its segment (see
// hold-ledger.ts), and its hold ends when it is collected or released.
import type { CachedMapping } from './mapping-cache.js';

export interface ViewInfo {
  name: string;
  capacity: number;
  /** The segment's data, as its header says: where it starts and how long it is. */
  dataOffset: number;
  dataLength: number;
  /** The buffer is the bytes [start, start + byteLength) of that data (a received range, or all of it). */
  start: number;
  byteLength: number;
  /** Keeps the mapping this view points into alive for as long as the view (an ephemeron). */
  mapping: ArrayBuffer | undefined;
  /** Mapped copy-on-write: what this process wrote is not in the segment, so it cannot be passed on by name. */
  privateCopy: boolean;
  /** Received in a segment made for this process alone (mode 'copy'): it can be handed back like our own. */
  exclusive: boolean;
  cached: CachedMapping | undefined;
  /** Its bytes in bytesTracked (0 for a copy-on-write mapping), and the collection epoch it was tracked in. */
  tracked: number;
  epoch: number;
}

/** What the finalizer of an array knows: its segment, as it was named when the array was made. */
export interface DroppedView {
  name: string;
  cached: CachedMapping | undefined;
  tracked: number;
  epoch: number;
}

/**
 * Collections this thread made to give segments back (see CollectionPolicy).
 * An array tracked since the last one and collected without one (V8 collects
 * on its own too) counts in ViewRegistry.freshBytesDropped.
 */
let collectionEpoch = 0;

/**
 * A collection to give segments back is decided (it may run a turn later):
 * arrays tracked or released from now on belong to what comes after it.
 */
export function newCollectionEpoch(): void {
  collectionEpoch++;
}

export class ViewRegistry {
  readonly #views = new WeakMap<ArrayBufferLike, ViewInfo>();
  readonly #registry: FinalizationRegistry<DroppedView>;
  /** Bytes of arrays this process has mapped or made in segments, ever, but copy-on-write mappings: their holds end only at GC. */
  bytesTracked = 0;
  /** Bytes of copy-on-write mappings this process has made, ever (see CollectionPolicy). */
  copyOnWriteBytesTracked = 0;
  /** Bytes of those (not copy-on-write) received in segments made for this process alone: copies whose owner waits for them back. */
  copiedBytesTracked = 0;
  /** Bytes of those made here, in this process's own segments (empty(), a worker's shared arrays). */
  madeBytesTracked = 0;
  /**
   * Of bytesTracked, those of arrays collected or released in the collection
   * epoch they were tracked in, ever: bytesTracked less this grows by what is
   * still alive of what came since the last collection (see newCollectionEpoch).
   */
  freshBytesDropped = 0;

  /** `onDropped` runs when a tracked array is collected. */
  constructor(onDropped: (view: DroppedView) => void) {
    this.#registry = new FinalizationRegistry((view) => {
      this.#count(view);
      onDropped(view);
    });
  }

  #count(view: { tracked: number; epoch: number }): void {
    if (view.epoch === collectionEpoch) this.freshBytesDropped += view.tracked;
  }

  get(buffer: ArrayBufferLike): ViewInfo | undefined {
    return this.#views.get(buffer);
  }

  track(buffer: ArrayBuffer, info: ViewInfo): void {
    this.#views.set(buffer, info);
    info.epoch = collectionEpoch;
    if (info.privateCopy) this.copyOnWriteBytesTracked += info.byteLength;
    else {
      info.tracked = info.byteLength;
      this.bytesTracked += info.byteLength;
      if (info.exclusive) this.copiedBytesTracked += info.byteLength;
    }
    const dropped: DroppedView = {
      name: info.name,
      cached: info.cached,
      tracked: info.tracked,
      epoch: info.epoch,
    };
    this.#registry.register(buffer, dropped, buffer);
  }

  /** Stops tracking `buffer` (it is being released); its info, if it was tracked. */
  untrack(buffer: ArrayBufferLike): ViewInfo | undefined {
    const info = this.#views.get(buffer);
    if (info === undefined) return undefined;
    this.#views.delete(buffer);
    this.#registry.unregister(buffer);
    this.#count(info);
    return info;
  }
}
