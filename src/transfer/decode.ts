// Turning a payload back into a value: segment names checked and mapped
// (shared, copy-on-write, or from this process's cache), inline bytes copied
// out, views rebuilt with their type, byteOffset and length, records, wrapper
// instances and codec values rebuilt. On failure every hold is given back.
import { Deserializer } from 'node:v8';
import { MalformedPayloadError, ShmexError } from '../errors.js';
import { keepsArrays } from '../shm/collect.js';
import { withMappingBytes } from '../shm/mapping-window.js';
import { MAX_NPY_HEADER_LENGTH } from '../shm/npy-header.js';
import type { Peer, SegmentBook, SegmentRef } from '../shm/segment-book.js';
import { requireSegmentName } from '../shm/segment-names.js';
import { checkSegmentHeader } from '../shm/segment-store.js';
import type { Encoded } from './encode.js';
import { readView } from './kinds/buffers.js';
import { readerOf } from './kinds/table.js';
import { inOwnBuffers, ownView } from './own-view.js';
import { MAX_DEPTH } from './scan.js';
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
  type SpecialHeader,
  TAG_SPECIAL,
  WIRE_VERSION,
} from './wire.js';

class PayloadDeserializer extends Deserializer {
  buffers: ArrayBufferLike[] = [];
  specials: unknown[] = [];

  _readHostObject(): unknown {
    const tag = this.readUint32();
    if (tag === TAG_SPECIAL) {
      const index = this.readUint32();
      if (index >= this.specials.length) throw new MalformedPayloadError(`special ${index} is not defined`);
      return this.specials[index];
    }
    return readView(this, tag, this.buffers);
  }
}

/**
 * V8's own errors (a truncated payload, an impossible view) say little: they
 * are named for what they are. Errors with a code (shmex's, the system's) and
 * failed allocations (out of memory, not a bad payload) go on as they are.
 */
function asPayloadError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof ShmexError) return error;
  if ((error as { code?: unknown }).code !== undefined || /allocation failed/i.test(error.message))
    return error;
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    // V8's deserializer checks its stack: a forged payload nested far deeper than any encoder sends.
    return new MalformedPayloadError(
      `its value is nested too deeply to decode (shmex sends at most ${MAX_DEPTH} levels)`,
      { cause: error },
    );
  }
  return new MalformedPayloadError(error.message, { cause: error });
}

/** Longest name a payload may carry: a shmex name has at most 62 characters. */
const MAX_NAME_BYTES = 255;

/**
 * Maps a segment named in a payload. The name is checked before anything is
 * opened; the store checks the file and, for a mapping of the data alone,
 * its header; a mapping of the whole segment (cached, or our own) has its
 * header checked here, against this reference.
 */
function receiveSegment(ref: SegmentRef, r: Receiving): ArrayBuffer {
  const mapping = r.book.receive(ref, r.from);
  r.received.push(ref.name);
  const info = r.book.infoOf(mapping);
  const whole = info?.mapping;
  if (whole !== undefined) {
    try {
      // What the mapping's ArrayBuffer shows holds a header but in odd cases; a longer one is read
      // as long as the sender says (a header of another length is refused anyway).
      const claimed = Number.isSafeInteger(ref.dataOffset) ? ref.dataOffset : 0;
      const length = Math.min(info!.capacity, MAX_NPY_HEADER_LENGTH, Math.max(whole.byteLength, claimed));
      withMappingBytes(whole, 0, length, (bytes) =>
        checkSegmentHeader(ref.name, bytes, ref.dataOffset, ref.byteLength),
      );
    } catch (error) {
      r.book.release(mapping);
      throw error;
    }
  }
  return mapping;
}

interface Receiving {
  book: SegmentBook;
  from: Peer;
  /** Names received so far (each now held by an ArrayBuffer of ours, or freed). */
  received: string[];
}

function readBuffer(d: PayloadDeserializer, r: Receiving): { buffer: ArrayBufferLike; bare: boolean } {
  const flags = d.readUint32();
  const bare = (flags & BUFFER_BARE) !== 0 && (flags & BUFFER_SHARED) === 0;
  const byteLength = d.readDouble();
  if (!Number.isSafeInteger(byteLength) || byteLength < 0)
    throw new MalformedPayloadError('bad buffer length');
  const shared = (flags & BUFFER_SHARED) !== 0;
  let bytes: Uint8Array;
  let mapping: ArrayBuffer | undefined;
  if ((flags & BUFFER_SEGMENT) !== 0) {
    const nameLength = d.readUint32();
    if (nameLength > MAX_NAME_BYTES) throw new MalformedPayloadError(`a segment name of ${nameLength} bytes`);
    const name = (d.readRawBytes(nameLength) as Buffer).toString('latin1');
    const capacity = d.readDouble();
    const dataOffset = d.readDouble();
    const dataLength = d.readDouble();
    const start = d.readDouble();
    const mode = SEGMENT_MODES[d.readUint32()];
    requireSegmentName(name);
    if (
      mode === undefined ||
      ![capacity, dataOffset, dataLength, start].every(Number.isSafeInteger) ||
      !(dataOffset > 0 && dataLength >= 0 && dataOffset + dataLength <= capacity) ||
      !(start >= 0 && start + byteLength <= dataLength)
    ) {
      throw new MalformedPayloadError(
        `bad reference to segment ${name}: bytes [${start}, +${byteLength}) of data [${dataOffset}, +${dataLength}) ` +
          `of ${capacity} bytes, mode ${String(mode)}`,
      );
    }
    mapping = receiveSegment(
      { name, capacity, dataOffset, byteLength: dataLength, start, length: byteLength, mode },
      r,
    );
    if (!shared) return { buffer: mapping, bare };
    bytes = new Uint8Array(mapping);
  } else {
    bytes = d.readRawBytes(byteLength) as Buffer;
  }
  // There is no way to wrap a mapping as a SharedArrayBuffer: copy into one.
  const out = shared ? new SharedArrayBuffer(byteLength) : new ArrayBuffer(byteLength);
  new Uint8Array(out).set(bytes);
  if (mapping !== undefined) r.book.release(mapping);
  return { buffer: out, bare };
}

/**
 * Rebuilds the specials, in the order the encoder met them, each by the
 * reader of its kind (kinds/table.ts); then gives late fields to those that
 * have them (wrappers, which may refer to each other).
 */
function readSpecials(d: PayloadDeserializer): number {
  const count = d.readUint32();
  const headers: SpecialHeader[] = [];
  for (let i = 0; i < count; i++) {
    const header = d.readValue() as SpecialHeader;
    headers.push(header);
    d.specials.push(readerOf(header).read(header, d));
  }
  headers.forEach((header, i) => {
    const reader = readerOf(header);
    if (reader.hasLate?.(header)) reader.readLate!(header, d.specials[i], d.readValue());
  });
  return count;
}

function readItem(d: PayloadDeserializer): unknown {
  const item = d.readUint32();
  if (item === ITEM_VIEW) return readView(d, d.readUint32(), d.buffers);
  if (item !== ITEM_VALUE) throw new MalformedPayloadError(`unknown root item ${item}`);
  const value: unknown = d.readValue();
  if (typeof value === 'object' && value !== null)
    throw new MalformedPayloadError('an object as a root item');
  return value;
}

/**
 * `holds`: the payload named segments and V8's deserializer has kept objects
 * already (specials, transferred buffers) or will (a V8 root).
 */
function readRoot(d: PayloadDeserializer, segments: boolean, holds: boolean): unknown {
  const form = d.readUint32();
  if (segments && (holds || form === ROOT_VALUE)) keepsArrays(d);
  if (form === ROOT_VIEW) return readItem(d);
  if (form === ROOT_LIST) {
    const length = d.readUint32();
    if (length > MAX_ROOT_ITEMS) throw new MalformedPayloadError(`a root list of ${length} items`);
    const list = new Array<unknown>(length);
    for (let i = 0; i < length; i++) list[i] = readItem(d);
    return list;
  }
  if (form !== ROOT_VALUE) throw new MalformedPayloadError(`unknown root form ${form}`);
  return d.readValue();
}

/**
 * Decodes a payload sent by `from`, whose segment holds are `leases`. If
 * decoding fails, every hold is given back: the arrays already made are
 * released, the segments not yet mapped freed.
 */
export function decode(
  data: Encoded,
  book: SegmentBook,
  from: Peer,
  leases: readonly string[],
  /** The message came by structured clone (a worker thread's port): its views own their buffers already. */
  cloned = false,
): unknown {
  if (!(data instanceof Uint8Array)) {
    const raw = data.raw;
    // Views a pipe's FrameInput read each have a buffer of its own, which it keeps no reference
    // to: they are the receiver's as they are (one copy, not two). A V8 body's views share its
    // memory (or Node's pool), at offsets, and are copied out.
    if (cloned || inOwnBuffers(data)) return raw;
    if (!Array.isArray(raw)) return ownView(raw);
    const own = raw.length > 1 ? new Map<ArrayBufferView, ArrayBufferView>() : undefined;
    return raw.map((v) => ownView(v, own));
  }
  book.owe(leases);
  const d = new PayloadDeserializer(data);
  const r: Receiving = { book, from, received: [] };
  try {
    d.readHeader();
    const version = d.readUint32();
    if (version !== WIRE_VERSION)
      throw new MalformedPayloadError(`wire version ${version}, expected ${WIRE_VERSION}`);
    const count = d.readUint32();
    let transferred = false;
    for (let i = 0; i < count; i++) {
      const { buffer, bare } = readBuffer(d, r);
      d.buffers.push(buffer);
      if (bare) d.transferArrayBuffer(i, buffer as ArrayBuffer);
      transferred ||= bare;
    }
    const specials = readSpecials(d);
    return readRoot(d, r.received.length > 0, transferred || specials > 0);
  } catch (error) {
    for (const buffer of d.buffers) book.release(buffer);
    const unreceived = [...leases];
    for (const name of r.received) {
      const at = unreceived.indexOf(name);
      if (at >= 0) unreceived.splice(at, 1);
    }
    book.free(unreceived);
    throw asPayloadError(error);
  }
}
