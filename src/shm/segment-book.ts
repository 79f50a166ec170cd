// The shared memory of one process, for one directory: the segments it owns
// (a recycling pool), the segments other processes lend it, and which
// ArrayBuffers live in which segment. It is a facade over parts with one job
// each:
//
//   SegmentPool   (segment-pool.ts)   the segments this process owns
//   MappingCache  (mapping-cache.ts)  shared mappings of others' segments
//   ViewRegistry  (view-registry.ts)  ArrayBuffer -> segment, finalizers
//   HoldLedger    (hold-ledger.ts)    every hold count, its protocol, routes
//   HoldOutbox    (hold-outbox.ts)    holds and frees sent to their owners
//
// Every hold change goes through the ledger; the book does what it answers.
// The process-wide state (one book per directory, where the array helpers
// allocate, the pool limits) is books.ts.
import { SharedMemoryError } from '../errors.js';
import { POOL_DEFAULTS } from '../tuning.js';
import { workerRole } from '../worker/role.js';
import { markAdopter } from './adopter-marks.js';
import { HoldLedger, type HoldStep } from './hold-ledger.js';
import { HoldOutbox } from './hold-outbox.js';
import { MappingCache } from './mapping-cache.js';
import { withMappingBytes } from './mapping-window.js';
import { native } from './native.js';
import { type NpyLayout, npyHeaderLength, writeNpyHeader } from './npy-header.js';
import type { Peer, SegmentControl, SegmentRef } from './segment-control.js';
import { ownerKey, segmentOwnerKey, selfOwner } from './segment-names.js';
import { SegmentPool, type SegmentPoolOptions } from './segment-pool.js';
import type { SegmentStore } from './segment-store.js';
import { type DroppedView, type ViewInfo, ViewRegistry } from './view-registry.js';

export type { Peer, SegmentControl, SegmentMode, SegmentRef } from './segment-control.js';

export class SegmentBook {
  readonly store: SegmentStore;
  readonly pool: SegmentPool;
  /** Owner key of the segments this book makes: its thread's (see ownerKey). */
  readonly #ledger = new HoldLedger<Peer>(ownerKey(selfOwner()));
  readonly #outbox = new HoldOutbox();
  readonly #cache: MappingCache;
  readonly #views = new ViewRegistry((view) => this.#dropped(view));

  constructor(store: SegmentStore, options: SegmentPoolOptions = POOL_DEFAULTS) {
    this.store = store;
    this.#cache = new MappingCache(store);
    this.pool = new SegmentPool(store, options);
    this.pool.onTrim = (names) => {
      this.#ledger.forget(names);
      this.#announceTrim(names);
    };
  }

  /** Bytes of arrays this process has mapped or made in segments, ever, but copy-on-write mappings: their holds end only at GC. */
  get bytesTracked(): number {
    return this.#views.bytesTracked;
  }

  /**
   * Bytes of the arrays tracked (bytesTracked) since this thread's last
   * collection to give segments back that are still alive, plus a constant:
   * it grows with arrays mapped or made, and falls when one of those is
   * collected without that collection (V8 collects on its own too) or
   * released. A rule that counts it (the parent's) collects only for arrays
   * nobody has collected yet.
   */
  get bytesHeldSinceCollection(): number {
    return this.#views.bytesTracked - this.#views.freshBytesDropped;
  }

  /** Bytes of arrays received in segments copied for this process alone (a parent's argument copies), ever. */
  get copiedBytesTracked(): number {
    return this.#views.copiedBytesTracked;
  }

  /** Of bytesTracked, those of arrays made here (allocate()). */
  get madeBytesTracked(): number {
    return this.#views.madeBytesTracked;
  }

  /** Bytes of copy-on-write mappings this process has made, ever. */
  get copyOnWriteBytesTracked(): number {
    return this.#views.copyOnWriteBytesTracked;
  }

  /**
   * A peer joins. A worker process is marked as ours to adopt from (see
   * adopter-marks.ts): from now until its segments are adopted or removed
   * after its death, sweeps by other processes leave them.
   */
  addPeer(peer: Peer): void {
    this.#ledger.join(peer);
    if (peer.pid !== undefined) markAdopter(this.store.dir, peer.pid);
  }

  setUpstream(peer: Peer): void {
    this.#ledger.setUpstream(peer);
  }

  /**
   * A peer died. Its segments that arrays of ours still live in, or that
   * tasks we lent them to still name, are adopted (see MappingCache.adopt);
   * the rest of its cache goes.
   */
  removePeer(peer: Peer): void {
    this.#ledger.leave(peer);
    this.#outbox.forget(peer);
    if (peer.pid === undefined) return;
    const mapped = this.#cache.ofOwner(peer.pid);
    const needed = this.#ledger.ownerDied(
      peer.pid,
      mapped.map(([name]) => name),
    );
    for (const [name, entry] of mapped) {
      const lent = needed.get(name);
      if (lent === undefined || entry.doomed) {
        this.#cache.uncache(name, entry, this.#ledger.views(name));
        continue;
      }
      // Both names go when our arrays and tasks are done with it (the ledger says 'settle').
      if (this.#cache.adopt(name, entry)) this.#ledger.adopt(name, entry.name, lent);
    }
  }

  /** Both names of every adopted segment. */
  adoptedNames(): string[] {
    return this.#ledger.adoptedNames();
  }

  /** Tells every peer that these segments are gone: those that cached them unmap them. */
  #announceTrim(names: string[]): void {
    for (const peer of this.#ledger.peers()) peer.sendControl({ type: 'trimmed', names });
  }

  /** The segment an ArrayBuffer lives in, if it lives in one. */
  /** Whether arrays of this process still live in any of these segments (cached mappings). */
  mapsAny(names: readonly string[]): boolean {
    for (const name of names) if (this.#ledger.views(name) > 0) return true;
    return false;
  }

  infoOf(buffer: ArrayBufferLike): ViewInfo | undefined {
    return this.#views.get(buffer);
  }

  // --- arrays made in shared memory by this process ---

  /** A new ArrayBuffer of `byteLength` bytes in a segment this process owns (zeroed only if asked). */
  allocate(byteLength: number, layout: NpyLayout, zeroed = false): ArrayBuffer {
    const dataOffset = npyHeaderLength(layout);
    const segment = this.pool.acquire(dataOffset + byteLength);
    this.#ledger.acquired(segment.name);
    withMappingBytes(segment.mapping, 0, dataOffset, (bytes) => writeNpyHeader(bytes, layout));
    const view = native.view(segment.mapping, dataOffset, byteLength);
    if (zeroed && !segment.zeroed) new Uint8Array(view).fill(0);
    segment.zeroed = false; // its holder writes it from now on
    segment.rezero = zeroed;
    const ref = { name: segment.name, capacity: segment.capacity, dataOffset, byteLength };
    this.#track(view, { ...ref, start: 0, length: byteLength }, segment.mapping, undefined);
    this.#views.madeBytesTracked += byteLength;
    return view;
  }

  // --- sending ---

  /**
   * The reference a receiver needs for `buffer`. A buffer that lives in a
   * segment goes as it is (zero-copy, with a new hold, tagged with `task` if
   * given: the task whose result this is); any other is copied into a pooled
   * segment. Every ref returned holds its segment until the receiver frees
   * it, or the sender calls free() because it was never sent.
   */
  lend(
    buffer: ArrayBufferLike,
    layout: NpyLayout,
    intent: 'value' | 'reference' | 'handover',
    task?: number,
    /** The bytes of `buffer` the receiver needs (its views' covering range); all of them by default. */
    range: { start: number; length: number } = { start: 0, length: buffer.byteLength },
  ): SegmentRef {
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
      this.hold([name], task);
      // A task's result made in our own segment, or in one made for this task alone (an argument
      // returned), is handed over: no copy-on-write needed, and its owner sees its own segment again.
      const handedOver = intent === 'handover' && (info.exclusive || this.pool.get(name) !== undefined);
      return {
        name,
        capacity: info.capacity,
        dataOffset: info.dataOffset,
        byteLength: info.dataLength,
        start: info.start + range.start,
        length: range.length,
        mode: intent === 'reference' || handedOver ? 'shared' : 'private',
      };
    }
    return this.#copyIn(buffer, layout, range);
  }

  /** A copy of `range` of `buffer` in a pooled segment, made for one receiver (mode 'copy'). */
  #copyIn(buffer: ArrayBufferLike, layout: NpyLayout, range: { start: number; length: number }): SegmentRef {
    const dataOffset = npyHeaderLength(layout);
    const segment = this.pool.acquire(dataOffset + range.length);
    segment.zeroed = false;
    segment.rezero = false;
    this.#ledger.acquired(segment.name);
    try {
      withMappingBytes(segment.mapping, 0, dataOffset, (bytes) => writeNpyHeader(bytes, layout));
      native.write(segment.mapping, dataOffset, new Uint8Array(buffer, range.start, range.length));
    } catch (error) {
      this.pool.discard(segment);
      this.#ledger.forget([segment.name]);
      throw error;
    }
    return {
      name: segment.name,
      capacity: segment.capacity,
      dataOffset,
      byteLength: range.length,
      start: 0,
      length: range.length,
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
    if (info.cached?.formerName !== undefined) return true;
    return this.#ledger.ownerAlive(segmentOwnerKey(info.name));
  }

  // --- receiving ---

  /**
   * Maps the bytes of a lent segment that `ref` names (its range). The
   * returned ArrayBuffer holds the lease until it is collected or released.
   */
  receive(ref: SegmentRef, from: Peer): ArrayBuffer {
    const ownedBySender = from.pid !== undefined && segmentOwnerKey(ref.name) === from.pid;
    const at = ref.dataOffset + ref.start;
    if (ref.mode !== 'private' && ownedBySender) {
      const entry = this.#cache.open(ref.name, ref.capacity);
      const view = native.view(entry.mapping, at, ref.length);
      this.#ledger.mapped(ref.name);
      this.#track(view, ref, entry.mapping, entry, { exclusive: ref.mode === 'copy' });
      return view;
    }
    const own = this.pool.get(ref.name);
    if (own !== undefined && ref.mode === 'shared') {
      // Our own segment, come back by reference: a view of our mapping (the lease becomes a local hold).
      const view = native.view(own.mapping, at, ref.length);
      this.#track(view, ref, own.mapping, undefined);
      return view;
    }
    const privateCopy = ref.mode === 'private';
    const mapping = this.store.attach(ref.name, ref.dataOffset, ref.byteLength, privateCopy, ref);
    this.#track(mapping, ref, undefined, undefined, { privateCopy, exclusive: ref.mode === 'copy' });
    return mapping;
  }

  #track(
    buffer: ArrayBuffer,
    ref: Omit<SegmentRef, 'mode'>,
    mapping: ArrayBuffer | undefined,
    cached: ViewInfo['cached'],
    { privateCopy = false, exclusive = false } = {},
  ): void {
    this.#views.track(buffer, {
      name: ref.name,
      capacity: ref.capacity,
      dataOffset: ref.dataOffset,
      dataLength: ref.byteLength,
      start: ref.start,
      byteLength: ref.length,
      mapping,
      cached,
      privateCopy,
      exclusive,
      tracked: 0,
      epoch: 0,
    });
  }

  /** Gives up an array's hold now and makes it unusable (length 0). False if it holds none. */
  release(buffer: ArrayBufferLike): boolean {
    const info = this.#views.untrack(buffer);
    if (info === undefined) return false;
    native.release(buffer as ArrayBuffer);
    this.#dropped(info);
    // Frees are batched until a later turn; an explicit release goes out before this turn ends,
    // ahead of any task submitted right after it, which may need the space it gives back.
    this.#outbox.flushSoon();
    return true;
  }

  /** An array in a segment is gone: its hold ends (and a doomed mapping with no array left goes). */
  #dropped({ name, cached }: DroppedView): void {
    const step = this.#ledger.dropped(name, cached !== undefined);
    if (cached?.doomed && cached.formerName === undefined && this.#ledger.views(name) === 0) {
      native.release(cached.mapping);
    }
    this.#apply(step, name, 'free', undefined);
  }

  // --- holds ---

  /** Holds a peer took for this process (a payload's leases): this process frees them. */
  owe(names: readonly string[]): void {
    this.#ledger.owe(names);
  }

  /** One more hold on each of `names`; `task`: the task whose result it is taken for (in a worker). */
  hold(names: readonly string[], task?: number): void {
    for (const name of names) this.#apply(this.#ledger.hold(name), name, 'hold', task);
  }

  free(names: readonly string[]): void {
    for (const name of names) this.#apply(this.#ledger.free(name), name, 'free', undefined);
  }

  /**
   * Sends the frees queued for a later turn now: a worker does so before its
   * outcomes, so that the parent has those segments back when the outcomes
   * make it send the next task (whose arguments may need one).
   */
  flushFrees(): void {
    this.#outbox.flush();
  }

  #apply(step: HoldStep<Peer>, name: string, kind: 'hold' | 'free', task: number | undefined): void {
    switch (step.kind) {
      case 'take':
      case 'recycle': {
        const segment = this.pool.get(name);
        if (segment === undefined) return;
        if (step.kind === 'take') this.pool.take(segment);
        else this.pool.recycle(segment);
        return;
      }
      case 'settle':
        // An adopted segment nothing needs now: workers that cached it by reference unmap it.
        this.#cache.removeAdopted(step.names);
        this.#announceTrim([...step.names]);
        return;
      case 'send':
        if (kind === 'hold') this.#outbox.hold(step.to, name, task);
        else this.#outbox.free(step.to, name);
        return;
      case 'none':
        return;
    }
  }

  /** A control message from a peer; `from`, in the parent: the worker that sent it. */
  onControl(message: SegmentControl, from?: object): void {
    if (from !== undefined && message.type !== 'trimmed') {
      this.#ledger.noted(from, message.type, message.names, message.task);
    }
    if (message.type === 'free') this.free(message.names);
    else if (message.type === 'hold') this.hold(message.names);
    else {
      for (const name of message.names) {
        const entry = this.#cache.get(name);
        if (entry !== undefined) this.#cache.uncache(name, entry, this.#ledger.views(name));
      }
    }
  }

  // --- holds lent to workers (the parent) ---

  /** A task was sent to `worker` with these leases: if it dies, they are freed for it. */
  lentTo(worker: object, leases: readonly string[]): void {
    this.#ledger.lentTo(worker, leases);
  }

  /** The outcome of `task` arrived from `worker`: the holds it took for it are ours to free now. */
  answered(worker: object, task: number): void {
    this.#ledger.answered(worker, task);
  }

  /**
   * `worker` is gone: gives back the holds it had on other processes'
   * segments, which it will never free. The leases of tasks that go back to
   * the queue stay held for their next worker; the holds it took for the
   * results of `lostTasks` are given back too.
   */
  workerGone(worker: object, requeuedLeases: readonly string[][], lostTasks: readonly number[]): void {
    for (const name of this.#ledger.borrowerDied(worker, requeuedLeases, lostTasks)) this.free([name]);
  }

  /**
   * Names to remove when this process exits: the segments it owns, and those
   * it adopted. A worker leaving a live parent (retired, shut down) keeps the
   * segments the parent still holds arrays in: the parent adopts them. A
   * worker thread's parent is alive as long as the thread's code runs.
   */
  namesToRemoveAtExit(): string[] {
    if ((workerProcess && process.connected === true) || workerThread) return this.pool.names(true);
    return [...this.pool.names(), ...this.adoptedNames()];
  }

  /** Frees idle segments now (an executor shut down). */
  trimIdle(): void {
    this.pool.trim(0);
  }
}

/** In a worker process: at exit it leaves the segments its parent holds arrays in. */
const workerProcess = workerRole === 'process';
/** In a worker thread of a ThreadPoolExecutor: like a worker process, it leaves the segments its parent holds. */
const workerThread = workerRole === 'thread';
