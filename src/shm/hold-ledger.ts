// The hold ledger: one process's single record of who holds which
// shared-memory segment, for one directory. It is pure (no I/O, no timers,
// no mappings): SegmentBook tells it what happened and does what it answers
// (a HoldStep). Everything below is counted here and nowhere else.
//
// Owners. A segment is owned by the process that created it, the pid in its
// name. Only its owner recycles, trims or unlinks it; the others hold it.
// Peers are the processes this one exchanges segments with, by pid; a worker
// also has an upstream (its parent), to which every name of another process
// goes: the parent routes it on by the pid in the name.
//
// Counts, by name:
//   own      holds on a segment of ours, while our pool has it: one per array
//            of ours in it, one per lease in flight, one per hold a peer took.
//            acquired() sets 1, hold() adds 1, free() takes 1. At 0 the segment
//            is free ('recycle'): the pool may reuse it, or trim it and unlink
//            its name (then forget()). A hold on a free one takes it back
//            ('take'). A free at 0, or of a name we no longer have, is ignored.
//   owed     holds on a peer's segment that this process is to free: the
//            leases of payloads it received (owe()) and the holds it sent on
//            (hold() answered 'send'); a free sent takes 1.
//   views    arrays of ours in a cached shared mapping of a peer's segment
//            (mapped() adds 1, dropped() takes 1). Each is also one hold owed,
//            so owed - views is what we lent on to tasks.
//   adopted  a dead peer's segment that we still need, under both its names
//            (ours, linked, and the former one): `views` (our arrays in it) and
//            `lent` (holds of the tasks we passed it to). At 0 and 0 both names
//            go ('settle'): it has no owner left to give it back to.
//   lent to  (the parent) per worker: the holds given with its tasks' leases,
//            less the frees it sent; and per task, the holds the worker took
//            for that task's result (a 'hold' tagged with the task).
//
// Who increments: the process that makes a lease (lend: hold(), or a new
// segment from the pool: acquired()); a receiver for the leases it got
// (owe()); the parent for each task it sends (lentTo()). Who decrements: the
// holder, when an array dies or a lease is never received (free(),
// dropped()); the owner, when a peer's 'free' arrives. A hold goes out at
// once, before any free that may follow it; frees are batched (HoldOutbox).
//
// A peer dies (ownerDied): nobody is left to free its segments to, so the
// holds owed on them are dropped. Each of its segments we have mapped and
// still need (views, or lent = owed - views > 0) is adopted; the rest go. Its
// borrowed holds (borrowerDied): what it was given and never freed is freed
// here, except the leases of tasks that go back to the queue (they stay
// held for the next worker), and so are the holds it took for results that
// were lost with it.
import { segmentOwnerKey } from './segment-names.js';

/** What the book must do after a change: nothing, move an own segment on or off the free list, remove an adopted one, or tell a peer. */
export type HoldStep<P> =
  | { readonly kind: 'none' | 'take' | 'recycle' }
  | { readonly kind: 'settle'; readonly names: readonly [string, string] }
  | { readonly kind: 'send'; readonly to: P };

/** A peer as the ledger sees it: the owner key (segment-names.ts ownerKey) of the segments it makes. */
export interface LedgerPeer {
  readonly pid: number | undefined;
}

interface Adopted {
  /** Our name (a hard link), then the dead owner's. */
  readonly names: readonly [string, string];
  views: number;
  lent: number;
}

interface Borrower {
  /** Holds given with its tasks' leases and not freed by it. */
  readonly lent: Map<string, number>;
  /** Holds it took for the result of a task, by task id. */
  readonly passed: Map<number, string[]>;
}

const NONE = { kind: 'none' } as const;
const TAKE = { kind: 'take' } as const;
const RECYCLE = { kind: 'recycle' } as const;

function add(counts: Map<string, number>, name: string, delta: number): void {
  const n = (counts.get(name) ?? 0) + delta;
  if (n > 0) counts.set(name, n);
  else counts.delete(name);
}

export class HoldLedger<P extends LedgerPeer> {
  /** The owner key (pid, or pid and thread: see ownerKey) of the segments this thread makes. */
  readonly #self: number;
  readonly #own = new Map<string, number>();
  readonly #owed = new Map<string, number>();
  readonly #views = new Map<string, number>();
  readonly #adopted = new Map<string, Adopted>();
  readonly #peers = new Map<number, P>();
  #upstream: P | undefined;
  readonly #borrowers = new Map<object, Borrower>();

  constructor(self: number) {
    this.#self = self;
  }

  // --- peers ---

  join(peer: P): void {
    if (peer.pid !== undefined) this.#peers.set(peer.pid, peer);
  }

  setUpstream(peer: P): void {
    this.#upstream = peer;
  }

  /** The peer is gone: names are no longer routed to it. */
  leave(peer: P): void {
    if (peer.pid !== undefined && this.#peers.get(peer.pid) === peer) this.#peers.delete(peer.pid);
  }

  /** Everyone to tell that a segment of ours went. */
  peers(): Set<P> {
    return new Set([...this.#peers.values(), ...(this.#upstream ? [this.#upstream] : [])]);
  }

  /** Whether the owner `pid` can still be reached, so that its segments' names still lead to them. */
  ownerAlive(pid: number | undefined): boolean {
    if (pid === undefined) return false;
    return pid === this.#self || this.#peers.has(pid) || this.#upstream?.pid === pid;
  }

  /** To whom holds and frees of `name` go: its owner if it is a peer, else upstream. */
  route(name: string): P | undefined {
    const pid = segmentOwnerKey(name);
    return (pid === undefined ? undefined : this.#peers.get(pid)) ?? this.#upstream;
  }

  // --- holds ---

  /** A segment of ours, new or reused from the free list, with its first hold. */
  acquired(name: string): void {
    this.#own.set(name, 1);
  }

  /** Segments of ours the pool unlinked or discarded. */
  forget(names: readonly string[]): void {
    for (const name of names) this.#own.delete(name);
  }

  /** Holds a peer took for this process (a payload's leases): this process frees them. */
  owe(names: readonly string[]): void {
    for (const name of names) {
      if (this.#own.has(name) || this.#adopted.has(name)) continue;
      if (segmentOwnerKey(name) === this.#self) continue;
      add(this.#owed, name, 1);
    }
  }

  hold(name: string): HoldStep<P> {
    const own = this.#own.get(name);
    if (own !== undefined) {
      this.#own.set(name, own + 1);
      return own === 0 ? TAKE : NONE;
    }
    const adopted = this.#adopted.get(name);
    if (adopted !== undefined) {
      adopted.lent++;
      return NONE;
    }
    const to = this.route(name);
    if (to === undefined) return NONE; // its owner is gone, and so is the segment's name
    add(this.#owed, name, 1);
    return { kind: 'send', to };
  }

  free(name: string): HoldStep<P> {
    const own = this.#own.get(name);
    if (own !== undefined) {
      if (own <= 0) return NONE;
      this.#own.set(name, own - 1);
      return own === 1 ? RECYCLE : NONE;
    }
    const adopted = this.#adopted.get(name);
    if (adopted !== undefined) {
      adopted.lent = Math.max(0, adopted.lent - 1);
      return this.#settle(adopted);
    }
    if (segmentOwnerKey(name) === this.#self) return NONE; // ours, unlinked already
    const to = this.route(name);
    if (to === undefined) return NONE;
    add(this.#owed, name, -1);
    return { kind: 'send', to };
  }

  /** An array of ours now lives in a cached shared mapping of `name`. */
  mapped(name: string): void {
    add(this.#views, name, 1);
  }

  /**
   * An array of ours in `name` is gone (collected or released); `cached`: it
   * lived in a cached mapping. Its hold is freed, unless the segment is
   * adopted: then there is nobody to free it to.
   */
  dropped(name: string, cached: boolean): HoldStep<P> {
    const adopted = this.#adopted.get(name);
    if (cached && adopted !== undefined) {
      adopted.views = Math.max(0, adopted.views - 1);
      return this.#settle(adopted);
    }
    if (cached) add(this.#views, name, -1);
    return this.free(name);
  }

  /** Arrays of ours in the cached mapping of `name`. */
  views(name: string): number {
    return this.#adopted.get(name)?.views ?? this.#views.get(name) ?? 0;
  }

  #settle(adopted: Adopted): HoldStep<P> {
    if (adopted.views > 0 || adopted.lent > 0) return NONE;
    for (const name of adopted.names) this.#adopted.delete(name);
    return { kind: 'settle', names: adopted.names };
  }

  // --- a peer dies ---

  /**
   * The owner `pid` died: the holds owed on its segments are dropped. Of
   * `mapped` (its segments mapped here), those still needed, with the holds
   * of the tasks we lent each one to: the book adopts them (adopt()).
   */
  ownerDied(pid: number, mapped: readonly string[]): Map<string, number> {
    const needed = new Map<string, number>();
    for (const name of mapped) {
      const views = this.#views.get(name) ?? 0;
      const lent = Math.max(0, (this.#owed.get(name) ?? 0) - views);
      this.#owed.delete(name);
      if (views > 0 || lent > 0) needed.set(name, lent);
    }
    // Holds on its segments that nothing of ours maps shared (private copies): nobody to free them to.
    for (const name of [...this.#owed.keys()]) {
      if (segmentOwnerKey(name) === pid) this.#owed.delete(name);
    }
    return needed;
  }

  /** `former`, of a dead owner, now has a second name of ours too: we are its owner now. */
  adopt(former: string, name: string, lent: number): void {
    const record: Adopted = { names: [name, former], views: this.#views.get(former) ?? 0, lent };
    this.#views.delete(former);
    this.#adopted.set(name, record);
    this.#adopted.set(former, record);
  }

  /** Both names of every adopted segment. */
  adoptedNames(): string[] {
    return [...new Set(this.#adopted.values())].flatMap((record) => [...record.names]);
  }

  // --- holds lent to workers (the parent) ---

  #borrower(key: object): Borrower {
    let borrower = this.#borrowers.get(key);
    if (borrower === undefined) {
      borrower = { lent: new Map(), passed: new Map() };
      this.#borrowers.set(key, borrower);
    }
    return borrower;
  }

  /** A task was sent to `borrower` with these leases. */
  lentTo(borrower: object, names: readonly string[]): void {
    if (names.length === 0) return;
    const { lent } = this.#borrower(borrower);
    for (const name of names) add(lent, name, 1);
  }

  /** `borrower` sent a free, or a hold for the result of `task`. */
  noted(borrower: object, type: 'free' | 'hold', names: readonly string[], task?: number): void {
    if (type === 'free') {
      const lent = this.#borrowers.get(borrower)?.lent;
      if (lent !== undefined) for (const name of names) add(lent, name, -1);
    } else if (task !== undefined) {
      const { passed } = this.#borrower(borrower);
      passed.set(task, [...(passed.get(task) ?? []), ...names]);
    }
  }

  /** The outcome of `task` arrived: the holds it took are the receiver's now. */
  answered(borrower: object, task: number): void {
    this.#borrowers.get(borrower)?.passed.delete(task);
  }

  /**
   * `borrower` is gone. The names to free for it (one per hold): what it
   * was given and did not free, less the leases of tasks that go back to the
   * queue, and the holds it took for the results of `lostTasks`.
   */
  borrowerDied(
    borrower: object,
    requeuedLeases: readonly string[][],
    lostTasks: readonly number[],
  ): string[] {
    const record = this.#borrowers.get(borrower);
    this.#borrowers.delete(borrower);
    const lent = record?.lent ?? new Map<string, number>();
    for (const leases of requeuedLeases) for (const name of leases) add(lent, name, -1);
    const names: string[] = [];
    for (const [name, count] of lent) for (let i = 0; i < count; i++) names.push(name);
    for (const task of lostTasks) names.push(...(record?.passed.get(task) ?? []));
    return names;
  }

  // --- for tests and diagnostics ---

  /** Every count, by name: what the header describes, as plain data. */
  snapshot(): LedgerSnapshot {
    const sorted = (m: Map<string, number>) =>
      Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
    return {
      own: sorted(this.#own),
      owed: sorted(this.#owed),
      views: sorted(this.#views),
      adopted: [...new Set(this.#adopted.values())].map((r) => ({
        names: [...r.names],
        views: r.views,
        lent: r.lent,
      })),
    };
  }

  /** What a borrower was given and took, as plain data. */
  borrowerSnapshot(borrower: object): { lent: Record<string, number>; passed: Record<number, string[]> } {
    const record = this.#borrowers.get(borrower);
    return {
      lent: Object.fromEntries(record?.lent ?? []),
      passed: Object.fromEntries(record?.passed ?? []),
    };
  }
}

export interface LedgerSnapshot {
  own: Record<string, number>;
  owed: Record<string, number>;
  views: Record<string, number>;
  adopted: { names: string[]; views: number; lent: number }[];
}
