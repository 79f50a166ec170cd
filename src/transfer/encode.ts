// Turning a value into a payload: arrays that already live in shared memory
// go by reference (zero-copy), other arrays at or above the threshold are
// copied into pooled segments (only their names go into the payload), smaller
// ones inline, everything else through V8's serializer. The walk over the
// value is scan.ts, each kind of value has its file in kinds/. Nothing of the
// caller's value is modified; on any failure the holds taken so far are given
// back.
import { Serializer } from 'node:v8';
import { NotTransferableError } from '../errors.js';
import { keepsArrays } from '../shm/collect.js';
import { quoteDescr } from '../shm/npy-header.js';
import type { SegmentBook } from '../shm/segment-book.js';
import { writeView } from './kinds/buffers.js';
import type { BufferEntry } from './kinds/types.js';
import { ownView, type Slab, type SlabPins, snapshotView } from './own-view.js';
import { Scan } from './scan.js';
import { Specials } from './specials.js';
import {
  BUFFER_BARE,
  BUFFER_SEGMENT,
  BUFFER_SHARED,
  ITEM_VALUE,
  ITEM_VIEW,
  MAX_ROOT_ITEMS,
  ROOT_LIST,
  ROOT_VALUE,
  ROOT_VIEW,
  SEGMENT_MODES,
  TAG_SPECIAL,
  WIRE_VERSION,
} from './wire.js';

export { MAX_DEPTH } from './scan.js';

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
 * An encoded value as it crosses the channel: our payload format, or, for
 * a value without segments, records, wrappers, shared or aliased buffers
 * (most small tasks), the value itself, which the channel's frame (or a
 * thread's structured clone) then carries with the same meaning and one copy less.
 */
export type Encoded = Uint8Array | { raw: unknown };

export interface Payload extends SlabPins {
  data: Encoded;
  /** Segment names held for the receiver: the sender frees them if the payload is never received. */
  leases: string[];
}

const NO_DATA: Encoded = { raw: undefined };
/**
 * The leases of every payload of snapshots, which lend nothing: one array, never added to (an
 * array per payload has an allocation site too; see SnapshotPayload).
 */
const NO_LEASES: string[] = [];

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
    writeView(this, view, this.#buffers.get(view.buffer));
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
    serializer.writeDouble(entry.end - entry.start);
    if (entry.segment !== undefined) {
      const name = Buffer.from(entry.segment.name, 'latin1');
      serializer.writeUint32(name.length);
      serializer.writeRawBytes(name);
      serializer.writeDouble(entry.segment.capacity);
      serializer.writeDouble(entry.segment.dataOffset);
      serializer.writeDouble(entry.segment.byteLength);
      serializer.writeDouble(entry.segment.start);
      serializer.writeUint32(SEGMENT_MODES.indexOf(entry.segment.mode));
    } else {
      serializer.writeRawBytes(new Uint8Array(entry.buffer, entry.start, entry.end - entry.start));
    }
    if (entry.bare) serializer.transferArrayBuffer(entry.index, entry.buffer as ArrayBuffer);
  }
}

/**
 * Whether the channel's own carriage of a value (a frame's views, V8's
 * serialization, a structured clone) keeps this buffer's meaning: it copies
 * a view's bytes alone (what travels of a buffer of one view anyway: its
 * covering range), so a buffer with a single view, or a bare buffer, qualifies.
 */
function travelsAsIs(entry: BufferEntry): boolean {
  if (entry.shared) return false;
  if (entry.bare) return (entry.views ?? 0) === 0;
  return entry.views === 1;
}

function isLeaf(value: unknown): boolean {
  return typeof value !== 'object' || value === null || ArrayBuffer.isView(value);
}

/** A primitive, a view, or a plain array of those: what decode's fixView() can restore after the channel. */
function isFlat(value: unknown): boolean {
  if (isLeaf(value)) return true;
  return Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype && value.every(isLeaf);
}

function allTravelAsIs(scan: Scan): boolean {
  for (let i = 0; i < scan.entries.length; i++) if (!travelsAsIs(scan.entries[i]!)) return false;
  return true;
}

function hasBuffer(value: unknown): boolean {
  return Buffer.isBuffer(value) || (Array.isArray(value) && value.some((v) => Buffer.isBuffer(v)));
}

/**
 * Lends a segment for each buffer that lives in one or is at least `threshold` bytes; returns their
 * names. Views that cover less than `threshold` bytes of a larger buffer in a segment go inline
 * (unless shared()): a 10-element subarray of a 160 MB array made in a segment (empty(), or a
 * worker's `new Float64Array(n)`) would otherwise keep that whole segment held by its receiver.
 */
function lendSegments(scan: Scan, options: EncodeOptions, leases: string[]): void {
  if (options.inlineOnly) return;
  const { book, threshold } = options;
  for (let i = 0; i < scan.entries.length; i++) {
    const entry = scan.entries[i]!;
    const length = entry.end - entry.start;
    const large = length >= threshold && length > 0;
    const whole = length === entry.buffer.byteLength;
    if (large || ((entry.byReference || whole) && book.infoOf(entry.buffer) !== undefined)) {
      const fits = entry.layout?.start === entry.start && entry.layout.end === entry.end;
      const layout = fits ? entry.layout! : { descr: quoteDescr('|u1'), shape: [length] };
      const intent = entry.byReference ? 'reference' : options.handover ? 'handover' : 'value';
      entry.segment = book.lend(
        entry.buffer,
        { descr: layout.descr, shape: layout.shape },
        intent,
        options.holdTag,
        { start: entry.start, length },
      );
      leases.push(entry.segment.name);
    }
  }
}

/** Whether the channel's own serialization may carry the value as it is (see Encoded). */
function travelsRaw(value: unknown, scan: Scan, options: EncodeOptions, leases: string[]): boolean {
  return (
    leases.length === 0 &&
    !scan.needsCopy &&
    isFlat(value) &&
    !(options.structuredClone && hasBuffer(value)) &&
    allTravelAsIs(scan)
  );
}

/**
 * A view, or a dense plain list of views and primitives with no view twice
 * (the decoder makes a view per item, so identity is kept only if none
 * repeats) and no other property: a root written item by item (see wire.ts).
 */
function isItemList(value: unknown): value is unknown[] {
  if (!Array.isArray(value) || value.length > MAX_ROOT_ITEMS) return false;
  if (Object.getPrototypeOf(value) !== Array.prototype) return false;
  if (Object.keys(value).length !== value.length) return false; // named properties (with every index present)
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) return false; // a hole
    const item: unknown = value[i];
    if (typeof item === 'object' && item !== null) {
      if (!ArrayBuffer.isView(item)) return false;
      for (let j = 0; j < i; j++) if (value[j] === item) return false;
    } else if (typeof item === 'function' || typeof item === 'symbol') return false;
  }
  return true;
}

function writeItem(serializer: PayloadSerializer, item: unknown): void {
  if (ArrayBuffer.isView(item)) {
    serializer.writeUint32(ITEM_VIEW);
    serializer._writeHostObject(item);
  } else {
    serializer.writeUint32(ITEM_VALUE);
    serializer.writeValue(item);
  }
}

/** True if the root went as one V8 value (the serializer keeps the objects it wrote). */
function writeRoot(serializer: PayloadSerializer, root: unknown, specials: boolean): boolean {
  if (!specials && ArrayBuffer.isView(root)) {
    serializer.writeUint32(ROOT_VIEW);
    writeItem(serializer, root);
    return false;
  }
  if (!specials && isItemList(root)) {
    serializer.writeUint32(ROOT_LIST);
    serializer.writeUint32(root.length);
    for (let i = 0; i < root.length; i++) writeItem(serializer, root[i]);
    return false;
  }
  serializer.writeUint32(ROOT_VALUE);
  serializer.writeValue(root);
  return true;
}

/** `segments`: the payload names segments (see keepsArrays). */
function writePayload(value: unknown, scan: Scan, label: string, segments: boolean): Uint8Array {
  const specials = scan.needsCopy ? new Specials(scan.buffers, scan.codedValues, scan.kinds) : undefined;
  const root = specials ? specials.copy(value) : value;
  const serializer = new PayloadSerializer(scan.buffers, specials?.markers, label);
  serializer.writeHeader();
  serializer.writeUint32(WIRE_VERSION);
  writeBufferTable(serializer, scan.entries, scan.entries.length);
  serializer.writeUint32(specials?.headers.length ?? 0);
  if (specials) {
    for (const header of specials.headers) serializer.writeValue(header);
    // In header order: the decoder reads them after all headers, in that order.
    for (const fields of specials.lateInOrder()) serializer.writeValue(fields);
  }
  const whole = writeRoot(serializer, root, specials !== undefined);
  // V8's serializer keeps what it wrote (specials, a V8 root) and the buffers passed as transferred.
  if (segments && (whole || specials !== undefined || scan.entries.some((entry) => entry.bare)))
    keepsArrays(serializer);
  return serializer.releaseBuffer();
}

/**
 * A payload of snapshots, and its value. Classes, not object literals: the
 * collector re-tenures the allocation site of a literal (an object, an array)
 * whose objects outlive their first collections, as the payloads of a burst
 * of tasks do, and that throws away the optimised code of encode (its list
 * of snapshots is made by new Array(n) for the same reason).
 */
class SnapshotPayload implements Payload {
  data: Encoded = NO_DATA;
  slab: Slab | undefined = undefined;
  moreSlabs: Slab[] | undefined = undefined;
  constructor(readonly leases: string[]) {}
}

class RawValue {
  constructor(readonly raw: unknown) {}
}

/** Encodes `value` (named `label` in error messages, e.g. 'args[0]'). */
export function encode(value: unknown, options: EncodeOptions, label = 'value'): Payload {
  // A primitive (most results of small tasks) holds nothing to walk: it goes as it is.
  if (
    value === null ||
    (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')
  )
    return { data: { raw: value }, leases: [], slab: undefined, moreSlabs: undefined };
  const { book, threshold } = options;
  const scan = new Scan(threshold, book, options.outerLevels ?? 0);
  scan.visit(value, { label });
  scan.cover();
  const leases: string[] = [];
  try {
    lendSegments(scan, options, leases);
    if (travelsRaw(value, scan, options, leases)) {
      // Snapshotted now: the channel serializes only when the task is sent, maybe later.
      const copies =
        Array.isArray(value) && value.length > 1 ? new Map<ArrayBufferView, ArrayBufferView>() : undefined;
      if (options.structuredClone) {
        const raw = Array.isArray(value) ? value.map((v) => ownView(v, copies)) : ownView(value);
        return { data: { raw }, leases, slab: undefined, moreSlabs: undefined };
      }
      const payload = new SnapshotPayload(NO_LEASES);
      let raw: unknown;
      if (Array.isArray(value)) {
        // A loop, not value.map(): map's array changes its elements kind once map is optimised,
        // which deoptimised the frame writer's functions that read it.
        const list = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++) list[i] = snapshotView(value[i], copies, payload);
        raw = list;
      } else raw = snapshotView(value, undefined, payload);
      payload.data = new RawValue(raw);
      return payload;
    }
    const data = writePayload(value, scan, label, leases.length > 0);
    return { data, leases, slab: undefined, moreSlabs: undefined };
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
