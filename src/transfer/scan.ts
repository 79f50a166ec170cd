// The encoder's walk over a value: checks that everything can travel, lists
// the buffers behind the views, and lets each kind (kinds/table.ts) do its
// part. Also where values nested deeper than MAX_DEPTH are refused.
import { types } from 'node:util';
import { NotTransferableError } from '../errors.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { CodecTestFailure } from './codecs.js';
import { isBufferLike, isShared } from './kinds/buffers.js';
import { kindOf } from './kinds/table.js';
import type { BufferEntry, CodedValue, ScanContext, ValueKind } from './kinds/types.js';
import { type PathNode, renderPath } from './path.js';

/**
 * How deeply objects (arrays, plain objects, Maps, Sets, class instances;
 * not typed arrays, which hold no other value) may sit inside each other in
 * a value that travels. V8's
 * serializer, which carries the value, recurses: it throws a RangeError a
 * few thousand levels down (nested plain objects: under 2,000 to
 * deserialize, with the whole default stack), and less when called from deep
 * in the stack. CPython's pickle stops at its recursion limit, 1,000 by
 * default; shmex rejects deeper values up front with a NotTransferableError.
 */
export const MAX_DEPTH = 1000;

/** Up to this many buffers are looked up with a walk over `entries`, more through a Map. */
const WALKED_ENTRIES = 8;

function isDetached(buffer: ArrayBufferLike): boolean {
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

/** The kind of `value`; a codec whose test throws is named, with where the value sits. */
function kindAt(value: object, path: PathNode): ValueKind {
  try {
    return kindOf(value);
  } catch (error) {
    if (!(error instanceof CodecTestFailure)) throw error;
    throw new NotTransferableError(
      renderPath(path),
      `the test of codec '${error.codec}' threw: ${(error.thrown as Error)?.message ?? String(error.thrown)}`,
      "A codec's test must return false for values it does not handle, not throw.",
      { cause: error.thrown },
    );
  }
}

/** Walks a value once: checks that everything can travel and lists the buffers. */
export class Scan implements ScanContext {
  /**
   * The buffers listed, by index. Looked up by buffer with a walk while they
   * are few (most tasks have one or two), through a Map (`buffers`) beyond,
   * or once a kind or the writer asks for it: no Map per tiny task.
   */
  readonly entries: BufferEntry[] = [];
  #buffers: Map<ArrayBufferLike, BufferEntry> | undefined;
  needsCopy = false;
  #codedValues: Map<object, CodedValue> | undefined;
  // Every object met, and its kind (the writer dispatches on it again). The
  // first two are kept in fields: an argument list of one array (most tiny
  // tasks) makes no Map.
  #kinds: Map<object, ValueKind> | undefined;
  #object0: object | undefined;
  #kind0: ValueKind | undefined;
  #object1: object | undefined;
  #kind1: ValueKind | undefined;
  readonly threshold: number;
  readonly book: SegmentBook;
  /** Inside an Error's cause: V8 serializes it, so only what V8 carries as it is may sit there. */
  #inErrorCause = 0;
  /** Objects entered, from the root; and how many of them are shmex's own (see outerLevels). */
  #depth = 0;
  readonly #outerLevels: number;

  constructor(threshold: number, book: SegmentBook, outerLevels: number) {
    this.threshold = threshold;
    this.book = book;
    this.#outerLevels = outerLevels;
  }

  /** The buffers listed, by buffer. */
  get buffers(): Map<ArrayBufferLike, BufferEntry> {
    return this.#buffers ?? this.#indexBuffers();
  }

  #indexBuffers(): Map<ArrayBufferLike, BufferEntry> {
    const buffers = new Map<ArrayBufferLike, BufferEntry>();
    for (let i = 0; i < this.entries.length; i++) buffers.set(this.entries[i]!.buffer, this.entries[i]!);
    this.#buffers = buffers;
    return buffers;
  }

  #entryOf(buffer: ArrayBufferLike): BufferEntry | undefined {
    if (this.#buffers !== undefined) return this.#buffers.get(buffer);
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i]!.buffer === buffer) return this.entries[i];
    }
    return undefined;
  }

  /** Values handled by a codec, and the parts each travels as (encoded once). Made when first asked for. */
  get codedValues(): Map<object, CodedValue> {
    if (this.#codedValues === undefined) this.#codedValues = new Map();
    return this.#codedValues;
  }

  /** Every object met, and its kind. */
  get kinds(): ReadonlyMap<object, ValueKind> {
    if (this.#kinds === undefined) {
      this.#kinds = new Map();
      if (this.#object0 !== undefined) this.#kinds.set(this.#object0, this.#kind0!);
      if (this.#object1 !== undefined) this.#kinds.set(this.#object1, this.#kind1!);
    }
    return this.#kinds;
  }

  #seenKind(value: object): ValueKind | undefined {
    if (this.#kinds !== undefined) return this.#kinds.get(value);
    if (value === this.#object0) return this.#kind0;
    if (value === this.#object1) return this.#kind1;
    return undefined;
  }

  #remember(value: object, kind: ValueKind): void {
    if (this.#kinds !== undefined) this.#kinds.set(value, kind);
    else if (this.#object0 === undefined) {
      this.#object0 = value;
      this.#kind0 = kind;
    } else if (this.#object1 === undefined) {
      this.#object1 = value;
      this.#kind1 = kind;
    } else {
      (this.kinds as Map<object, ValueKind>).set(value, kind);
    }
  }

  addBuffer(
    buffer: ArrayBufferLike,
    path: PathNode,
    descr?: string,
    shape?: number[],
    range?: { start: number; end: number },
  ): BufferEntry {
    let entry = this.#entryOf(buffer);
    if (entry === undefined) {
      if (buffer.byteLength === 0 && isDetached(buffer)) {
        throw new NotTransferableError(
          renderPath(path),
          'its ArrayBuffer is detached (released or transferred), so it holds no data',
          'Pass an array that is still usable.',
        );
      }
      const { start, end } = range ?? { start: 0, end: buffer.byteLength };
      entry = { index: this.entries.length, buffer, shared: isShared(buffer), start, end };
      this.entries.push(entry);
      if (this.#buffers !== undefined) this.#buffers.set(buffer, entry);
      else if (this.entries.length > WALKED_ENTRIES) this.#indexBuffers();
    } else if (range === undefined) {
      entry.start = 0;
      entry.end = buffer.byteLength;
    } else {
      entry.start = Math.min(entry.start, range.start);
      entry.end = Math.max(entry.end, range.end);
    }
    if (range === undefined) entry.whole = true;
    if (descr !== undefined && shape !== undefined) {
      const { start, end } = range ?? { start: 0, end: buffer.byteLength };
      // The widest range wins: it is the likeliest to be the one that travels.
      if (entry.layout === undefined || end - start > entry.layout.end - entry.layout.start) {
        entry.layout = { descr, shape, start, end };
      }
    }
    return entry;
  }

  /**
   * Settles the bytes of each buffer that travel: a SharedArrayBuffer whole
   * (it arrives as one), any other from its views' covering range with the
   * start aligned down to 8 bytes, so that every view keeps its elements
   * aligned on the other side. Called once the walk is done.
   */
  cover(): void {
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.shared || entry.whole) {
        entry.start = 0;
        entry.end = entry.buffer.byteLength;
      } else {
        entry.start -= entry.start % 8;
      }
    }
  }

  visit(value: unknown, path: PathNode): void {
    if (typeof value !== 'object' || value === null) {
      if (typeof value === 'function') {
        throw new NotTransferableError(
          renderPath(path),
          `it is a function (${value.name || 'anonymous'})`,
          'Pass data only; to run code in the worker, make it the task or import it in a task module.',
        );
      }
      if (typeof value === 'symbol') {
        throw new NotTransferableError(renderPath(path), 'it is a symbol', 'Use a string instead.');
      }
      return;
    }
    const seen = this.#seenKind(value);
    const kind = seen ?? kindAt(value, path);
    if (kind.leaf) {
      this.#visitObject(value, kind, seen !== undefined, path); // holds no other value: not a level
      return;
    }
    if (this.#depth >= MAX_DEPTH + this.#outerLevels) this.#tooDeep(value, path);
    this.#depth++;
    try {
      this.#visitObject(value, kind, seen !== undefined, path);
    } finally {
      this.#depth--;
    }
  }

  visitCause(value: unknown, path: PathNode): void {
    this.#inErrorCause++;
    try {
      this.visit(value, path);
    } finally {
      this.#inErrorCause--;
    }
  }

  #visitObject(value: object, kind: ValueKind, seen: boolean, path: PathNode): void {
    // Checked before `seen`: the same object may sit both next to an Error and in its cause.
    if (this.#inErrorCause > 0 && kind.special) {
      throw new NotTransferableError(
        renderPath(path),
        "it sits in an Error's cause, where only plain values, arrays and buffers can travel",
        'Put it next to the error instead.',
      );
    }
    if (seen) return;
    this.#remember(value, kind);
    kind.scan(value, path, this);
  }

  /** Rejects a value nested deeper than MAX_DEPTH, naming the caller's value and its whole depth. */
  #tooDeep(value: object, path: PathNode): never {
    const below = depthOf(value);
    const depth =
      below === undefined ? `more than ${MAX_DEPTH}` : String(this.#depth - this.#outerLevels + below);
    throw new NotTransferableError(
      renderPath(path, this.#outerLevels),
      `it is nested ${depth} levels deep (objects or arrays inside each other), and shmex sends values nested ` +
        `at most ${MAX_DEPTH} levels deep (V8's serializer, which carries them, fails a few thousand levels down)`,
      'Flatten it: for example keep the nodes of a tree or a linked list in an array and refer to them by index.',
    );
  }
}

/**
 * How many objects deep `root` is (1 for an object holding only primitives
 * and arrays), walked without recursion; undefined if it has too many
 * objects to count.
 */
function depthOf(root: object, maxObjects = 1_000_000): number | undefined {
  const seen = new Set<object>();
  const stack: Array<[unknown, number]> = [[root, 1]];
  let deepest = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null || seen.has(value) || isBufferLike(value)) continue;
    if (seen.size >= maxObjects) return undefined;
    seen.add(value);
    deepest = Math.max(deepest, depth);
    if (types.isProxy(value)) continue;
    const children =
      value instanceof Map ? [...value].flat() : value instanceof Set ? [...value] : Object.values(value);
    for (const child of children) stack.push([child, depth + 1]);
  }
  return deepest;
}
