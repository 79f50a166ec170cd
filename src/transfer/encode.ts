// Turning a value into a payload: arrays that already live in shared memory
// go by reference (zero-copy), other arrays at or above the threshold are
// copied into pooled segments (only their names go into the payload), smaller
// ones inline,
// everything else through V8's serializer. Nothing of the caller's value is
// modified; on any failure the holds taken so far are given back.
import { types } from 'node:util';
import { Serializer } from 'node:v8';
import { adapterFor } from '../adapters/shapes.js';
import { NotTransferableError } from '../errors.js';
import { quoteDescr } from '../shm/npy-header.js';
import type { SegmentBook, SegmentRef } from '../shm/segment-book.js';
import { BUFFER_KIND, VIEW_KINDS, viewKindOf } from './array-kinds.js';
import { type ArrayCodec, codecOf } from './codecs.js';
import { ownView } from './own-view.js';
import { mapStep, type PathNode, renderPath, step } from './path.js';
import { RecordArray } from './records.js';
import { SharedReference } from './shared-reference.js';
import {
  BUFFER_BARE,
  BUFFER_SEGMENT,
  BUFFER_SHARED,
  SEGMENT_MODES,
  type SpecialHeader,
  TAG_BYTES,
  TAG_SPECIAL,
  TAG_VIEW,
  WIRE_VERSION,
} from './wire.js';
import { type WrapperEntry, wrapperOf } from './wrappers.js';

export interface EncodeOptions {
  book: SegmentBook;
  /** A result handed over by a task: arrays that live in this process's own segments go by reference. */
  handover?: boolean;
  /**
   * The task whose result this is (in a worker): the holds taken on segments
   * it passes on are tagged with it, so the parent gives them back if the
   * result is lost with the worker.
   */
  holdTag?: number;
  /** Copy every buffer into the payload, none through segments (for bytes decoded by many receivers). */
  inlineOnly?: boolean;
  /** Buffers of at least this many bytes travel through a segment. */
  threshold: number;
  /**
   * The message crosses a worker thread's port, whose structured clone turns
   * a Buffer into a Uint8Array: values with a Buffer take the payload format.
   */
  structuredClone?: boolean;
  /**
   * Levels shmex adds around the caller's values (the argument list: 1; a
   * chunk's list of argument lists: 2), which MAX_DEPTH does not count.
   */
  outerLevels?: number;
}

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

/**
 * An encoded value as it crosses the IPC channel: our payload format, or, for
 * a value without segments, records, wrappers, shared or aliased buffers
 * (most small tasks), the value itself, which the channel's own V8
 * serialization then carries with the same meaning and one copy less.
 */
export type Encoded = Uint8Array | { raw: unknown };

export interface Payload {
  data: Encoded;
  /** Segment names held for the receiver: the sender frees them if the payload is never received. */
  leases: string[];
}

interface BufferEntry {
  index: number;
  buffer: ArrayBufferLike;
  shared: boolean;
  /** numpy descr and shape for the segment header: the first view that covers the whole buffer. */
  descr?: string;
  shape?: number[];
  segment?: SegmentRef;
  /** The buffer itself is part of the value, not only views of it. */
  bare?: boolean;
  /** Views of it in the value, and whether one of them covers only part of it. */
  views?: number;
  partial?: boolean;
  /** Passed with shared(): the receiver maps it by reference. */
  byReference?: boolean;
}

const PLAIN_BUILTINS = [Date, RegExp, Error, Boolean, Number, String, BigInt] as const;

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isDetached(buffer: ArrayBufferLike): boolean {
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

function isShared(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer;
}

/** Walks a value once: checks that everything can travel and lists the buffers. */
class Scan {
  readonly buffers = new Map<ArrayBufferLike, BufferEntry>();
  needsCopy = false;
  /** Values handled by a codec, and the parts each travels as (encoded once). */
  readonly codecParts = new Map<object, { codec: ArrayCodec; parts: unknown }>();
  readonly #seen = new Set<object>();
  readonly #threshold: number;
  readonly #book: SegmentBook;
  /** Inside an Error's cause: V8 serializes it, so only what V8 carries as it is may sit there. */
  #inErrorCause = 0;
  /** Objects entered, from the root; and how many of them are shmex's own (see outerLevels). */
  #depth = 0;
  readonly #outerLevels: number;

  constructor(threshold: number, book: SegmentBook, outerLevels: number) {
    this.#threshold = threshold;
    this.#book = book;
    this.#outerLevels = outerLevels;
  }

  addBuffer(buffer: ArrayBufferLike, path: PathNode, descr?: string, shape?: number[]): void {
    let entry = this.buffers.get(buffer);
    if (entry === undefined) {
      if (buffer.byteLength === 0 && isDetached(buffer)) {
        throw new NotTransferableError(
          renderPath(path),
          'its ArrayBuffer is detached (released or transferred), so it holds no data',
          'Pass an array that is still usable.',
        );
      }
      entry = { index: this.buffers.size, buffer, shared: isShared(buffer) };
      this.buffers.set(buffer, entry);
    }
    if (entry.descr === undefined && descr !== undefined) {
      entry.descr = descr;
      entry.shape = shape;
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
    if (isBufferLike(value)) {
      this.#visitObject(value, path); // holds no other value: not a level
      return;
    }
    if (this.#depth >= MAX_DEPTH + this.#outerLevels) this.#tooDeep(value, path);
    this.#depth++;
    try {
      this.#visitObject(value, path);
    } finally {
      this.#depth--;
    }
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

  #visitObject(value: object, path: PathNode): void {
    if (types.isProxy(value)) {
      throw new NotTransferableError(
        renderPath(path),
        'it is a Proxy, which V8 cannot serialize',
        'Pass the object it stands for, or a plain copy of it.',
      );
    }
    // Checked before #seen: the same object may sit both next to an Error and in its cause.
    if (
      this.#inErrorCause > 0 &&
      (value instanceof SharedReference ||
        value instanceof RecordArray ||
        isShared(value as ArrayBufferLike) ||
        (!isPlainObject(value) && (wrapperOf(value) !== undefined || codecOf(value) !== undefined)))
    ) {
      throw new NotTransferableError(
        renderPath(path),
        "it sits in an Error's cause, where only plain values, arrays and buffers can travel",
        'Put it next to the error instead.',
      );
    }
    if (this.#seen.has(value)) return;
    this.#seen.add(value);
    if (value instanceof SharedReference) {
      const view = value.view;
      if (!ArrayBuffer.isView(view) || this.#book.infoOf(view.buffer) === undefined) {
        throw new NotTransferableError(
          renderPath(path),
          'shared() was given an array that does not live in shared memory',
          'Make it with empty(), zeros() or from(), or pass the array a task returned.',
        );
      }
      this.visit(view, path);
      this.buffers.get(view.buffer)!.byReference = true;
      this.needsCopy = true;
      return;
    }
    if (ArrayBuffer.isView(value)) {
      const kind = viewKindOf(value);
      if (kind === undefined) {
        throw new NotTransferableError(
          renderPath(path),
          `it is an instance of ${(value.constructor as { name?: string } | undefined)?.name ?? 'an unknown class'}, a subclass of a built-in view`,
          'Pass the plain typed array, or wrap it in a class registered with registerArrayWrapper().',
        );
      }
      if (
        kind === BUFFER_KIND &&
        value.byteLength < this.#threshold &&
        this.#book.infoOf(value.buffer) === undefined
      ) {
        return; // travels as its own bytes
      }
      const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
      const k = VIEW_KINDS[kind]!;
      if (whole)
        this.addBuffer(value.buffer, path, quoteDescr(k.dtype), [value.byteLength / k.bytesPerElement]);
      else this.addBuffer(value.buffer, path);
      const entry = this.buffers.get(value.buffer)!;
      entry.views = (entry.views ?? 0) + 1;
      if (!whole) entry.partial = true;
      return;
    }
    if (value instanceof ArrayBuffer) {
      this.addBuffer(value, path);
      this.buffers.get(value)!.bare = true;
      return;
    }
    if (isShared(value as ArrayBufferLike)) {
      this.addBuffer(value as SharedArrayBuffer, path);
      this.needsCopy = true;
      return;
    }
    // Subclasses of Array, Map and Set are class instances like any other (V8 would drop their class).
    const proto = Object.getPrototypeOf(value);
    if (Array.isArray(value) && proto === Array.prototype) {
      for (let i = 0; i < value.length; i++) this.visit(value[i], step(path, i));
      return;
    }
    if (value instanceof Map && proto === Map.prototype) {
      for (const [k, v] of value) {
        this.visit(k, mapStep(path, 'key', k));
        this.visit(v, mapStep(path, 'get', k));
      }
      return;
    }
    if (value instanceof Set && proto === Set.prototype) {
      for (const v of value) this.visit(v, mapStep(path, 'has', v));
      return;
    }
    if (isPlainObject(value)) {
      for (const key of Object.keys(value))
        this.visit((value as Record<string, unknown>)[key], step(path, key));
      return;
    }
    if (value instanceof RecordArray) {
      this.needsCopy = true;
      const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
      if (whole) this.addBuffer(value.buffer, path, value.layout.npyDescr(), [value.length]);
      else this.addBuffer(value.buffer, path);
      return;
    }
    const codec = codecOf(value);
    if (codec !== undefined) {
      this.needsCopy = true;
      let parts: unknown;
      try {
        parts = codec.encode(value);
      } catch (error) {
        throw new NotTransferableError(
          renderPath(path),
          `its codec '${codec.name}' failed to encode it: ${(error as Error)?.message ?? String(error)}`,
          'Check the value, or pass its arrays yourself.',
          { cause: error },
        );
      }
      this.codecParts.set(value, { codec, parts });
      this.visit(parts, step(path, `<${codec.name}>`));
      return;
    }
    const wrapper = wrapperOf(value);
    if (wrapper !== undefined) {
      this.needsCopy = true;
      if (!Object.hasOwn(value, wrapper.field)) {
        throw new NotTransferableError(
          renderPath(path),
          `this ${wrapper.name} has no own property '${wrapper.field}', the field it was registered with`,
          'Register the class with the name of the own property that holds the array.',
        );
      }
      for (const key of Object.keys(value))
        this.visit((value as Record<string, unknown>)[key], step(path, key));
      return;
    }
    if (value instanceof Error) {
      // V8 serializes an Error's own data property 'cause' (not its other fields): check it too.
      const cause = Object.getOwnPropertyDescriptor(value, 'cause');
      if (cause !== undefined && 'value' in cause) {
        this.#inErrorCause++;
        try {
          this.visit(cause.value, step(path, 'cause'));
        } finally {
          this.#inErrorCause--;
        }
      }
      return;
    }
    if (PLAIN_BUILTINS.some((ctor) => value instanceof ctor)) return;
    const adapter = adapterFor(value);
    if (adapter !== undefined) {
      throw new NotTransferableError(
        renderPath(path),
        `it is ${adapter.what}, and no codec for such values is registered in this process`,
        `Add import '${adapter.entry}' once in the parent program: it registers the codec that sends them ` +
          'through shared memory (import it in the task module too, so the worker can read and return them).',
      );
    }
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'an unknown class';
    throw new NotTransferableError(
      renderPath(path),
      `it is an instance of class ${name}, which the other process cannot rebuild`,
      `Pass a plain object, or register the class with registerArrayWrapper(${name}, field) in both processes.`,
    );
  }
}

/** A typed array, DataView or (Shared)ArrayBuffer: an object that holds no other value. */
function isBufferLike(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || isShared(value as ArrayBufferLike);
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

/** Values V8 cannot carry as they are, replaced by marker views in a copy of the value. */
class Specials {
  readonly headers: SpecialHeader[] = [];
  readonly wrapperProps: Array<{ index: number; props: Record<string, unknown> }> = [];
  readonly markers = new Map<object, number>();
  readonly #memo = new Map<object, unknown>();
  readonly #buffers: Map<ArrayBufferLike, BufferEntry>;

  readonly #codecParts: ReadonlyMap<object, { codec: ArrayCodec; parts: unknown }>;

  constructor(
    buffers: Map<ArrayBufferLike, BufferEntry>,
    codecParts: ReadonlyMap<object, { codec: ArrayCodec; parts: unknown }>,
  ) {
    this.#buffers = buffers;
    this.#codecParts = codecParts;
  }

  #marker(original: object, header: SpecialHeader): DataView {
    const marker = new DataView(new ArrayBuffer(0));
    this.markers.set(marker, this.headers.length);
    this.headers.push(header);
    this.#memo.set(original, marker);
    return marker;
  }

  copy(value: unknown): unknown {
    if (
      typeof value !== 'object' ||
      value === null ||
      ArrayBuffer.isView(value) ||
      value instanceof ArrayBuffer
    ) {
      return value;
    }
    if (value instanceof SharedReference) return value.view;
    const done = this.#memo.get(value);
    if (done !== undefined) return done;
    if (isShared(value as ArrayBufferLike)) {
      return this.#marker(value, { k: 'sab', index: this.#buffers.get(value as SharedArrayBuffer)!.index });
    }
    if (value instanceof RecordArray) {
      return this.#marker(value, {
        k: 'record',
        layout: value.layout.toSpec(),
        length: value.length,
        data: value.bytes(),
      });
    }
    if (Array.isArray(value)) {
      const out: unknown[] = new Array(value.length);
      this.#memo.set(value, out);
      for (let i = 0; i < value.length; i++) out[i] = this.copy(value[i]);
      return out;
    }
    if (value instanceof Map) {
      const out = new Map();
      this.#memo.set(value, out);
      for (const [k, v] of value) out.set(this.copy(k), this.copy(v));
      return out;
    }
    if (value instanceof Set) {
      const out = new Set();
      this.#memo.set(value, out);
      for (const v of value) out.add(this.copy(v));
      return out;
    }
    const coded = this.#codecParts.get(value);
    if (coded !== undefined) {
      // Parts first: special values inside them (records, other codecs' values) get the lower
      // indexes, so the decoder has rebuilt them when it rebuilds this one.
      const parts = this.copy(coded.parts);
      return this.#marker(value, { k: 'codec', name: coded.codec.name, parts });
    }
    const wrapper: WrapperEntry | undefined = isPlainObject(value) ? undefined : wrapperOf(value);
    if (wrapper !== undefined) {
      const index = this.headers.length;
      const marker = this.#marker(value, { k: 'wrapper', name: wrapper.name });
      this.wrapperProps.push({ index, props: this.#copyProps(value, {}) });
      return marker;
    }
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      this.#memo.set(value, out);
      return this.#copyProps(value, out);
    }
    return value; // Date, RegExp, Error, boxed primitives: V8 copies them
  }

  #copyProps(value: object, out: Record<string, unknown>): Record<string, unknown> {
    for (const key of Object.keys(value)) {
      // Defined, not assigned: an own '__proto__' key must stay a property, not become the prototype.
      Object.defineProperty(out, key, {
        value: this.copy((value as Record<string, unknown>)[key]),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    return out;
  }
}

class PayloadSerializer extends Serializer {
  readonly #buffers: Map<ArrayBufferLike, BufferEntry>;
  readonly #markers: Map<object, number> | undefined;
  readonly #label: string;

  constructor(
    buffers: Map<ArrayBufferLike, BufferEntry>,
    markers: Map<object, number> | undefined,
    label: string,
  ) {
    super();
    this.#buffers = buffers;
    this.#markers = markers;
    this.#label = label;
    // Not in @types/node, but a documented part of v8.Serializer.
    (
      this as unknown as { _setTreatArrayBufferViewsAsHostObjects(flag: boolean): void }
    )._setTreatArrayBufferViewsAsHostObjects(true);
  }

  /**
   * What V8 throws for a value it cannot clone that the scan let through: a
   * NotTransferableError too, with the whole value's label for a path.
   */
  _getDataCloneError(message: string): Error {
    return new NotTransferableError(
      this.#label,
      `V8 cannot serialize a value inside it (${message})`,
      'Pass plain data only.',
    );
  }

  _writeHostObject(object: object): void {
    const view = object as ArrayBufferView;
    const special = this.#markers?.get(view);
    if (special !== undefined) {
      this.writeUint32(TAG_SPECIAL);
      this.writeUint32(special);
      return;
    }
    const kind = viewKindOf(view)!;
    const entry = this.#buffers.get(view.buffer);
    if (entry === undefined) {
      // A small Node Buffer: its own bytes only (it may sit in Node's shared 8 KiB pool).
      this.writeUint32(TAG_BYTES);
      this.writeUint32(kind);
      this.writeDouble(view.byteLength);
      this.writeRawBytes(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      return;
    }
    this.writeUint32(TAG_VIEW);
    this.writeUint32(kind);
    this.writeUint32(entry.index);
    this.writeDouble(view.byteOffset);
    this.writeDouble(view.byteLength);
  }
}

function writeBufferTable(serializer: Serializer, entries: Iterable<BufferEntry>, count: number): void {
  serializer.writeUint32(count);
  for (const entry of entries) {
    serializer.writeUint32(
      (entry.shared ? BUFFER_SHARED : 0) |
        (entry.segment ? BUFFER_SEGMENT : 0) |
        (entry.bare ? BUFFER_BARE : 0),
    );
    serializer.writeDouble(entry.buffer.byteLength);
    if (entry.segment !== undefined) {
      const name = Buffer.from(entry.segment.name, 'latin1');
      serializer.writeUint32(name.length);
      serializer.writeRawBytes(name);
      serializer.writeDouble(entry.segment.capacity);
      serializer.writeDouble(entry.segment.dataOffset);
      serializer.writeUint32(SEGMENT_MODES.indexOf(entry.segment.mode));
    } else {
      serializer.writeRawBytes(new Uint8Array(entry.buffer));
    }
    if (entry.bare) serializer.transferArrayBuffer(entry.index, entry.buffer as ArrayBuffer);
  }
}

/**
 * Whether V8's own serialization (the IPC channel's) keeps this buffer's
 * meaning: it copies a view's bytes alone, so only a view that is the single
 * view of its whole buffer, or a bare buffer, qualifies.
 */
function travelsAsIs(entry: BufferEntry): boolean {
  if (entry.shared) return false;
  if (entry.bare) return (entry.views ?? 0) === 0;
  return entry.views === 1 && entry.partial !== true;
}

/** A primitive, a view, or a plain array of those: what decode's fixView() can restore after the channel. */
function isFlat(value: unknown): boolean {
  const leaf = (v: unknown) => typeof v !== 'object' || v === null || ArrayBuffer.isView(v);
  if (leaf(value)) return true;
  return Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype && value.every(leaf);
}

function hasBuffer(value: unknown): boolean {
  return Buffer.isBuffer(value) || (Array.isArray(value) && value.some((v) => Buffer.isBuffer(v)));
}

/** Encodes `value` (named `label` in error messages, e.g. 'args[0]'). */
export function encode(value: unknown, options: EncodeOptions, label = 'value'): Payload {
  const { book, threshold } = options;
  const scan = new Scan(threshold, book, options.outerLevels ?? 0);
  scan.visit(value, { label });
  const leases: string[] = [];
  try {
    for (const entry of scan.buffers.values()) {
      if (options.inlineOnly) break;
      const inSegment = book.infoOf(entry.buffer) !== undefined;
      if (inSegment || (entry.buffer.byteLength >= threshold && entry.buffer.byteLength > 0)) {
        const layout = {
          descr: entry.descr ?? quoteDescr('|u1'),
          shape: entry.shape ?? [entry.buffer.byteLength],
        };
        const intent = entry.byReference ? 'reference' : options.handover ? 'handover' : 'value';
        entry.segment = book.lend(entry.buffer, layout, intent, options.holdTag);
        leases.push(entry.segment.name);
      }
    }
    if (
      leases.length === 0 &&
      !scan.needsCopy &&
      isFlat(value) &&
      !(options.structuredClone && hasBuffer(value)) &&
      [...scan.buffers.values()].every(travelsAsIs)
    ) {
      // Snapshotted now: the channel serializes only when the task is sent, maybe later.
      const copies = new Map<ArrayBufferView, ArrayBufferView>();
      const raw = Array.isArray(value) ? value.map((v) => ownView(v, copies)) : ownView(value, copies);
      return { data: { raw }, leases };
    }
    const specials = scan.needsCopy ? new Specials(scan.buffers, scan.codecParts) : undefined;
    const root = specials ? specials.copy(value) : value;
    const serializer = new PayloadSerializer(scan.buffers, specials?.markers, label);
    serializer.writeHeader();
    serializer.writeUint32(WIRE_VERSION);
    writeBufferTable(serializer, scan.buffers.values(), scan.buffers.size);
    serializer.writeUint32(specials?.headers.length ?? 0);
    if (specials) {
      for (const header of specials.headers) serializer.writeValue(header);
      // In header order: the decoder reads them as it meets wrapper headers.
      specials.wrapperProps.sort((a, b) => a.index - b.index);
      for (const { props } of specials.wrapperProps) serializer.writeValue(props);
    }
    serializer.writeValue(root);
    return { data: serializer.releaseBuffer(), leases };
  } catch (error) {
    book.free(leases);
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      // Within MAX_DEPTH, but encoded from deep in the call stack (V8 recurses on the same stack).
      throw new NotTransferableError(
        label,
        'V8 ran out of stack serializing it (it is nested deeply, and was sent from deep in the call stack)',
        'Flatten it, or send it from a shallower call.',
      );
    }
    throw error;
  }
}
