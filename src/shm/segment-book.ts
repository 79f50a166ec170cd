// The shared memory of one process: the segments it owns (a recycling pool),
// the segments other processes lend it (mapped once and cached when the
// owner lends them again), and which ArrayBuffers live in which segment.
//
// Holds. A segment goes back to its owner's pool when nothing refers to it:
// the owner counts one hold per array that lives in it, in any process. An
// array's hold is released when the array is garbage-collected or given to
// release(). A borrower releases by sending 'free' to the owner; a process
// that passes a borrowed segment on (zero-copy) first sends 'hold'. Workers
// talk only to the parent, which routes a name to its owner by the pid in it.
import { resolve } from 'node:path';
import { SharedMemoryError } from '../errors.js';
import { native } from './native.js';
import { type NpyLayout, npyHeaderLength, writeNpyHeader } from './npy-header.js';
import { newSegmentName, parseSegmentName } from './segment-names.js';
import { type PooledSegment, SegmentPool, type SegmentPoolOptions } from './segment-pool.js';
import { DEFAULT_SHM_DIR, SegmentStore } from './segment-store.js';

/**
 * How the receiver maps a segment: 'copy' (a copy made for it alone),
 * 'private' (a segment someone else uses too: mapped copy-on-write) or
 * 'shared' (by reference: writes reach everyone).
 */
export type SegmentMode = 'copy' | 'private' | 'shared';

/** What travels in a payload for one buffer. */
export interface SegmentRef {
  name: string;
  capacity: number;
  dataOffset: number;
  byteLength: number;
  mode: SegmentMode;
}

export interface SegmentControl {
  type: 'free' | 'hold' | 'trimmed';
  names: string[];
  /** For a 'hold' a worker takes for the result of this task (see SegmentBook.holdTag). */
  task?: number;
}

/** Another process this one exchanges segments with. */
export interface Peer {
  readonly pid: number | undefined;
  sendControl(message: SegmentControl): void;
}

interface CachedMapping {
  /** The segment's name now (an adopted segment has a second name, ours). */
  name: string;
  mapping: ArrayBuffer;
  views: number;
  /** The owner trimmed the segment: unmap once the last view is gone. */
  doomed: boolean;
  /**
   * Its owner died while arrays of ours still lived in it, or tasks queued
   * here still named it: we hard-link it under a name of ours (so sweeps see
   * a live owner, and it can still be passed to tasks), keep the former name
   * for tasks already encoded with it, and remove both once our views and the
   * tasks we lent it to are done with it. `lent` counts those tasks.
   */
  adopted?: { lent: number; formerName: string };
}

interface ViewInfo {
  name: string;
  capacity: number;
  dataOffset: number;
  byteLength: number;
  /** Keeps the mapping this view points into alive for as long as the view (an ephemeron). */
  mapping: ArrayBuffer | undefined;
  /** Mapped copy-on-write: what this process wrote is not in the segment, so it cannot be passed on by name. */
  privateCopy: boolean;
  /** Received in a segment made for this process alone (mode 'copy'): it can be handed back like our own. */
  exclusive: boolean;
  cached: CachedMapping | undefined;
}

interface Token {
  name: string;
  cached: CachedMapping | undefined;
}

/** Pool limits for every book of this process; see configureSharedMemory(). */
let poolOptions: SegmentPoolOptions = { idleMs: 2000, maxIdleBytes: 2 ** 31 };

export function setPoolOptions(options: SegmentPoolOptions): void {
  poolOptions = options;
  for (const book of books.values()) book.pool.configure(options);
}

export function getPoolOptions(): SegmentPoolOptions {
  return poolOptions;
}

export class SegmentBook {
  readonly store: SegmentStore;
  readonly pool: SegmentPool;
  /** Owner pid of the segments this book makes: none (0) in a worker thread, which makes none. */
  readonly #self = workerThread ? 0 : process.pid;
  readonly #cache = new Map<string, CachedMapping>();
  readonly #views = new WeakMap<ArrayBufferLike, ViewInfo>();
  readonly #registry = new FinalizationRegistry<Token>((token) => this.#dropped(token));
  readonly #peers = new Map<number, Peer>();
  /** In a worker: the parent, to which every name this process does not own is routed. */
  #upstream: Peer | undefined;
  readonly #outbox = new Map<Peer, { free: string[]; hold: string[] }>();
  /**
   * Holds on other processes' segments that this process is to free, by
   * name: those it posted (lending a segment on to a task) and those taken
   * for it (the leases of payloads it received; see owe()). A task queued
   * with such a name needs the segment even after its owner dies and our own
   * arrays in it are gone: removePeer() adopts it then.
   */
  readonly #posted = new Map<string, number>();
  /** Tags the holds this process takes while set (a worker: the task whose result is encoded). */
  holdTag: number | undefined;
  /** Bytes of arrays this process has mapped or made in segments, ever: their holds end only at GC. */
  bytesTracked = 0;
  #flushing = false;
  #flushSoon = false;

  constructor(store: SegmentStore, options: SegmentPoolOptions = poolOptions) {
    this.store = store;
    this.pool = new SegmentPool(store, options);
    this.pool.onTrim = (names) => {
      for (const peer of new Set([...this.#peers.values(), ...(this.#upstream ? [this.#upstream] : [])])) {
        peer.sendControl({ type: 'trimmed', names });
      }
    };
  }

  addPeer(peer: Peer): void {
    if (peer.pid !== undefined) this.#peers.set(peer.pid, peer);
  }

  setUpstream(peer: Peer): void {
    this.#upstream = peer;
  }

  /**
   * A peer died. Its segments that arrays of ours still live in, or that
   * tasks we lent them to still name, are adopted (see CachedMapping.adopted);
   * the rest of its cache goes.
   */
  removePeer(peer: Peer): void {
    if (peer.pid !== undefined && this.#peers.get(peer.pid) === peer) this.#peers.delete(peer.pid);
    this.#outbox.delete(peer);
    for (const [name, entry] of [...this.#cache]) {
      if (parseSegmentName(name)?.pid !== peer.pid) continue;
      // Of the holds we are to free, one per array of ours goes when that array does (#dropped);
      // the others are tasks' (lent on).
      const lent = Math.max(0, (this.#posted.get(name) ?? 0) - entry.views);
      this.#posted.delete(name);
      if ((entry.views === 0 && lent === 0) || entry.doomed) {
        this.#uncache(name, entry);
        continue;
      }
      // A second name, ours, so sweeps see a live owner; the old one stays too, for tasks
      // already encoded with it. Both go when our arrays and tasks are done with it.
      const adopted = newSegmentName();
      try {
        this.store.link(name, adopted);
      } catch {
        // Gone already: the arrays stay readable, but can no longer be passed on by name.
        this.#cache.delete(name);
        entry.doomed = true;
        continue;
      }
      entry.adopted = { lent, formerName: name };
      entry.name = adopted;
      this.#cache.set(adopted, entry);
    }
    // Holds on its segments that nothing of ours maps (private copies): nobody to free them to now.
    for (const name of this.#posted.keys()) {
      if (parseSegmentName(name)?.pid === peer.pid) this.#posted.delete(name);
    }
  }

  /** Both names of every adopted segment. */
  adoptedNames(): string[] {
    return [...new Set(this.#cache.values())]
      .filter((entry) => entry.adopted !== undefined)
      .flatMap((entry) => [entry.name, entry.adopted!.formerName]);
  }

  #settleAdopted(entry: CachedMapping): void {
    if (entry.views > 0 || (entry.adopted?.lent ?? 0) > 0) return;
    const names = [entry.name, entry.adopted!.formerName];
    for (const name of names) this.#cache.delete(name);
    this.store.remove(names);
    native.release(entry.mapping);
    this.pool.onTrim?.(names); // workers that cached it by reference unmap it
  }

  /** The segment an ArrayBuffer lives in, if it lives in one. */
  infoOf(buffer: ArrayBufferLike): ViewInfo | undefined {
    return this.#views.get(buffer);
  }

  // --- arrays made in shared memory by this process ---

  /** A new ArrayBuffer of `byteLength` bytes in a segment this process owns (not zeroed). */
  allocate(byteLength: number, layout: NpyLayout): ArrayBuffer {
    const dataOffset = npyHeaderLength(layout);
    const segment = this.pool.acquire(dataOffset + byteLength);
    writeNpyHeader(new Uint8Array(segment.mapping, 0, dataOffset), layout);
    const view = native.view(segment.mapping, dataOffset, byteLength);
    this.#track(view, segment.name, segment.capacity, dataOffset, byteLength, segment.mapping, undefined);
    return view;
  }

  // --- sending ---

  /**
   * The reference a receiver needs for `buffer`. A buffer that lives in a
   * segment goes as it is (zero-copy, with a new hold); any other is copied
   * into a pooled segment. Every ref returned holds its segment until the
   * receiver frees it, or the sender calls free() because it was never sent.
   */
  lend(buffer: ArrayBufferLike, layout: NpyLayout, intent: 'value' | 'reference' | 'handover'): SegmentRef {
    const info = this.#views.get(buffer);
    if (info !== undefined && intent === 'reference' && !this.#canPassOn(info)) {
      throw new SharedMemoryError(
        'shared() was given an array whose segment can no longer be shared (its owner process has exited, ' +
          'or it is a copy-on-write mapping): copy it with from() first',
        undefined,
        'ENOENT',
      );
    }
    if (info !== undefined && this.#canPassOn(info)) {
      const name = info.cached?.name ?? info.name;
      this.hold([name]);
      // A task's result made in our own segment, or in one made for this task alone (an argument
      // returned), is handed over: no copy-on-write needed, and its owner sees its own segment again.
      const handedOver = intent === 'handover' && (info.exclusive || this.pool.get(name) !== undefined);
      return {
        name,
        capacity: info.capacity,
        dataOffset: info.dataOffset,
        byteLength: info.byteLength,
        mode: intent === 'reference' || handedOver ? 'shared' : 'private',
      };
    }
    const dataOffset = npyHeaderLength(layout);
    const segment = this.pool.acquire(dataOffset + buffer.byteLength);
    try {
      writeNpyHeader(new Uint8Array(segment.mapping, 0, dataOffset), layout);
      new Uint8Array(segment.mapping, dataOffset, buffer.byteLength).set(new Uint8Array(buffer));
    } catch (error) {
      this.pool.discard(segment);
      throw error;
    }
    return {
      name: segment.name,
      capacity: segment.capacity,
      dataOffset,
      byteLength: buffer.byteLength,
      mode: 'copy',
    };
  }

  /**
   * Whether a segment's name still leads to this buffer's bytes: not for a
   * copy-on-write mapping (our writes are not in the file), nor for a segment
   * whose owner has died (its name was removed with it).
   */
  #canPassOn(info: ViewInfo): boolean {
    if (info.privateCopy || info.cached?.doomed) return false;
    if (info.cached?.adopted !== undefined) return true;
    const pid = parseSegmentName(info.name)?.pid;
    return pid === this.#self || (pid !== undefined && (this.#peers.has(pid) || this.#upstream?.pid === pid));
  }

  // --- receiving ---

  /** Maps a lent segment. The returned ArrayBuffer holds the lease until it is collected or released. */
  receive(ref: SegmentRef, from: Peer): ArrayBuffer {
    const ownedBySender = from.pid !== undefined && parseSegmentName(ref.name)?.pid === from.pid;
    // A worker thread maps afresh each time: it is not told when its parent trims a segment.
    if (ref.mode !== 'private' && ownedBySender && !workerThread) {
      let entry = this.#cache.get(ref.name);
      if (entry === undefined) {
        entry = {
          name: ref.name,
          mapping: this.store.attach(ref.name, 0, ref.capacity, false),
          views: 0,
          doomed: false,
        };
        this.#cache.set(ref.name, entry);
      }
      const view = native.view(entry.mapping, ref.dataOffset, ref.byteLength);
      entry.views++;
      this.#track(view, ref.name, ref.capacity, ref.dataOffset, ref.byteLength, entry.mapping, entry, {
        exclusive: ref.mode === 'copy',
      });
      return view;
    }
    const own = this.pool.get(ref.name);
    if (own !== undefined && ref.mode === 'shared') {
      // Our own segment, come back by reference: a view of our mapping (the lease becomes a local hold).
      const view = native.view(own.mapping, ref.dataOffset, ref.byteLength);
      this.#track(view, ref.name, ref.capacity, ref.dataOffset, ref.byteLength, own.mapping, undefined);
      return view;
    }
    const privateCopy = ref.mode === 'private';
    const mapping = this.store.attach(ref.name, ref.dataOffset, ref.byteLength, privateCopy);
    this.#track(mapping, ref.name, ref.capacity, ref.dataOffset, ref.byteLength, undefined, undefined, {
      privateCopy,
      exclusive: ref.mode === 'copy',
    });
    return mapping;
  }

  #track(
    buffer: ArrayBuffer,
    name: string,
    capacity: number,
    dataOffset: number,
    byteLength: number,
    mapping: ArrayBuffer | undefined,
    cached: CachedMapping | undefined,
    { privateCopy = false, exclusive = false } = {},
  ): void {
    this.#views.set(buffer, {
      name,
      capacity,
      dataOffset,
      byteLength,
      mapping,
      cached,
      privateCopy,
      exclusive,
    });
    this.bytesTracked += byteLength;
    this.#registry.register(buffer, { name, cached }, buffer);
  }

  /** Gives up an array's hold now and makes it unusable (length 0). False if it holds none. */
  release(buffer: ArrayBufferLike): boolean {
    const info = this.#views.get(buffer);
    if (info === undefined) return false;
    this.#views.delete(buffer);
    this.#registry.unregister(buffer);
    native.release(buffer as ArrayBuffer);
    this.#dropped({ name: info.name, cached: info.cached });
    // Frees are batched until a later turn; an explicit release goes out before this turn ends,
    // ahead of any task submitted right after it, which may need the space it gives back.
    if (!this.#flushSoon) {
      this.#flushSoon = true;
      queueMicrotask(() => {
        this.#flushSoon = false;
        this.#flush();
      });
    }
    return true;
  }

  #dropped(token: Token): void {
    const entry = token.cached;
    if (entry !== undefined) {
      entry.views--;
      if (entry.adopted !== undefined) {
        this.#settleAdopted(entry);
        return; // its owner is gone: nobody to free it to
      }
      if (entry.doomed && entry.views === 0) native.release(entry.mapping);
    }
    this.free([token.name]);
  }

  // --- holds ---

  #owned(name: string): PooledSegment | undefined {
    return this.pool.get(name);
  }

  #route(name: string): Peer | undefined {
    const pid = parseSegmentName(name)?.pid;
    return (pid === undefined ? undefined : this.#peers.get(pid)) ?? this.#upstream;
  }

  /** Holds a peer took for this process (a payload's leases): this process frees them. */
  owe(names: readonly string[]): void {
    for (const name of names) {
      if (this.#owned(name) !== undefined || this.#cache.get(name)?.adopted !== undefined) continue;
      if (parseSegmentName(name)?.pid === this.#self) continue;
      this.#posted.set(name, (this.#posted.get(name) ?? 0) + 1);
    }
  }

  hold(names: readonly string[]): void {
    for (const name of names) {
      const own = this.#owned(name);
      const adopted = this.#cache.get(name)?.adopted;
      if (own !== undefined) this.pool.hold(own);
      else if (adopted !== undefined) adopted.lent++;
      else this.#post(name, 'hold');
    }
  }

  free(names: readonly string[]): void {
    for (const name of names) {
      const own = this.#owned(name);
      const entry = this.#cache.get(name);
      if (own !== undefined) this.pool.unhold(own);
      else if (entry?.adopted !== undefined) {
        entry.adopted.lent = Math.max(0, entry.adopted.lent - 1);
        this.#settleAdopted(entry);
      } else if (parseSegmentName(name)?.pid !== this.#self) this.#post(name, 'free');
    }
  }

  #post(name: string, kind: 'free' | 'hold'): void {
    const peer = this.#route(name);
    if (peer === undefined) return; // its owner is gone, and so is the segment's name
    const posted = (this.#posted.get(name) ?? 0) + (kind === 'hold' ? 1 : -1);
    if (posted > 0) this.#posted.set(name, posted);
    else this.#posted.delete(name);
    let box = this.#outbox.get(peer);
    if (box === undefined) {
      box = { free: [], hold: [] };
      this.#outbox.set(peer, box);
    }
    if (kind === 'hold') {
      // Holds go out at once: they must reach the owner before any free that follows them.
      this.#flush();
      peer.sendControl(
        this.holdTag === undefined
          ? { type: 'hold', names: [name] }
          : { type: 'hold', names: [name], task: this.holdTag },
      );
      return;
    }
    box.free.push(name);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushing = false;
    for (const [peer, box] of this.#outbox) {
      if (box.free.length > 0) peer.sendControl({ type: 'free', names: box.free.splice(0) });
    }
  }

  /** A control message from a peer. */
  onControl(message: SegmentControl): void {
    if (message.type === 'free') this.free(message.names);
    else if (message.type === 'hold') this.hold(message.names);
    else {
      for (const name of message.names) {
        const entry = this.#cache.get(name);
        if (entry !== undefined) this.#uncache(name, entry);
      }
    }
  }

  #uncache(name: string, entry: CachedMapping): void {
    this.#cache.delete(name);
    entry.doomed = true;
    if (entry.views === 0) native.release(entry.mapping);
  }

  /**
   * Names to remove when this process exits: the segments it owns, and those
   * it adopted. A worker leaving a live parent (retired, shut down) keeps the
   * segments the parent still holds arrays in: the parent adopts them.
   */
  namesToRemoveAtExit(): string[] {
    if (workerProcess && process.connected === true) return this.pool.names(true);
    return [...this.pool.names(), ...this.adoptedNames()];
  }

  /** Frees idle segments now (an executor shut down). */
  trimIdle(): void {
    this.pool.trim(0);
  }
}

const books = new Map<string, SegmentBook>();
let workerProcess = false;
/** In a worker thread: it maps its parent's segments but makes none (see isWorkerThread). */
let workerThread = false;

/** Called by a shmex worker at start: at exit it leaves the segments its parent holds arrays in. */
export function markWorkerProcess(thread = false): void {
  workerProcess = !thread;
  workerThread = thread;
}

/** Names of segments adopted by this process (both names of each), which sweeps must leave alone. */
export function adoptedSegmentNames(): Set<string> {
  return new Set([...books.values()].flatMap((book) => book.adoptedNames()));
}

/**
 * Whether this is a worker thread of a ThreadPoolExecutor. Such a thread maps
 * segments its parent made, but makes none: a segment's name says which
 * process owns it, and a thread is not one. Its results travel inline, and
 * empty()/zeros()/from() make ordinary arrays there.
 */
export function isWorkerThread(): boolean {
  return workerThread;
}

/** Every book of this process, one per shared-memory directory used. */
export function segmentBooks(): Iterable<SegmentBook> {
  return books.values();
}

let helperDir = DEFAULT_SHM_DIR;
let helperDirChosen = false;

/**
 * Where empty(), zeros() and from() allocate: in a worker, its executor's
 * directory; in a program, the one configureSharedMemory({ dir }) chose
 * (`chosen`), else that of the latest executor made on another directory
 * than /dev/shm.
 */
export function setHelperDirectory(dir: string, chosen = true): void {
  if (!chosen && helperDirChosen) return;
  helperDir = resolve(dir);
  if (chosen) helperDirChosen = true;
}

export function getHelperDirectory(): string {
  return helperDir;
}

/** The book empty(), zeros() and from() allocate in. */
export function helperBook(): SegmentBook {
  return segmentBook(helperDir);
}

/** The process-wide book for a shared-memory directory. */
export function segmentBook(directory: string): SegmentBook {
  const dir = resolve(directory); // '/dev/shm/' and '/dev/shm' are one directory, one book
  let book = books.get(dir);
  if (book === undefined) {
    book = new SegmentBook(new SegmentStore(dir));
    books.set(dir, book);
    if (books.size === 1) {
      // Names of segments this process owns must not outlive it (mappings elsewhere stay valid).
      process.on('exit', () => {
        for (const b of books.values()) b.store.remove(b.namesToRemoveAtExit());
      });
    }
  }
  return book;
}
