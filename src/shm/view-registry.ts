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
  /** A large array's entry in the registry's sweep list (see ViewRegistry.sweepCollected). */
  large?: LargeView;
}

/** A large array, watched by a WeakRef so that a collection's caller can see at once that it is gone. */
interface LargeView {
  ref: WeakRef<ArrayBufferLike>;
  dropped: DroppedView;
}

/**
 * Arrays of at least this many bytes are watched by a WeakRef as well as by
 * the finalizer: a 160 MB result dropped by the caller then gives its
 * segment back right after the collection that found it dead, in the same
 * turn, not a turn later when V8 runs the finalizers.
 */
export const SWEPT_VIEW_BYTES = 1 << 20;

/** What the finalizer of an array knows: its segment, as it was named when the array was made. */
export interface DroppedView {
  name: string;
  cached: CachedMapping | undefined;
}

export class ViewRegistry {
  readonly #views = new WeakMap<ArrayBufferLike, ViewInfo>();
  readonly #registry: FinalizationRegistry<DroppedView>;
  readonly #onDropped: (view: DroppedView) => void;
  readonly #large = new Set<LargeView>();
  /** Bytes of arrays this process has mapped or made in segments, ever, but copy-on-write mappings: their holds end only at GC. */
  bytesTracked = 0;
  /** Bytes of copy-on-write mappings this process has made, ever (see CollectionPolicy). */
  copyOnWriteBytesTracked = 0;
  /** Bytes of those (not copy-on-write) received in segments made for this process alone: copies whose owner waits for them back. */
  copiedBytesTracked = 0;
  /** Bytes of those made here, in this process's own segments (empty(), a worker's shared arrays). */
  madeBytesTracked = 0;

  /** `onDropped` runs when a tracked array is collected. */
  constructor(onDropped: (view: DroppedView) => void) {
    this.#onDropped = onDropped;
    this.#registry = new FinalizationRegistry(onDropped);
  }

  get(buffer: ArrayBufferLike): ViewInfo | undefined {
    return this.#views.get(buffer);
  }

  track(buffer: ArrayBuffer, info: ViewInfo): void {
    this.#views.set(buffer, info);
    if (info.privateCopy) this.copyOnWriteBytesTracked += info.byteLength;
    else {
      this.bytesTracked += info.byteLength;
      if (info.exclusive) this.copiedBytesTracked += info.byteLength;
    }
    const dropped: DroppedView = { name: info.name, cached: info.cached };
    if (info.byteLength >= SWEPT_VIEW_BYTES) {
      // The entry itself is the unregister token: it outlives the buffer (sweepCollected).
      info.large = { ref: new WeakRef(buffer), dropped };
      this.#large.add(info.large);
      this.#registry.register(buffer, dropped, info.large);
    } else {
      this.#registry.register(buffer, dropped, buffer);
    }
  }

  /**
   * Right after a garbage collection: the large arrays it collected are
   * reported to `onDropped` now, and their finalizers will not run. The
   * number reported. A WeakRef keeps its target alive until the end of the
   * turn that read it, so a sweep before the collection in the same turn
   * would keep every array it saw.
   */
  sweepCollected(): number {
    let swept = 0;
    for (const large of this.#large) {
      if (large.ref.deref() !== undefined) continue;
      this.#large.delete(large);
      this.#registry.unregister(large);
      this.#onDropped(large.dropped);
      swept++;
    }
    return swept;
  }

  /** Stops tracking `buffer` (it is being released); its info, if it was tracked. */
  untrack(buffer: ArrayBufferLike): ViewInfo | undefined {
    const info = this.#views.get(buffer);
    if (info === undefined) return undefined;
    this.#views.delete(buffer);
    if (info.large !== undefined) {
      this.#large.delete(info.large);
      this.#registry.unregister(info.large);
    } else {
      this.#registry.unregister(buffer);
    }
    return info;
  }
}
