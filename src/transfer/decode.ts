// Turning a payload back into a value: segments are mapped (and their names
// removed at once), inline bytes copied out, views rebuilt with their type,
// byteOffset and length, records and wrapper instances rebuilt.
import { Deserializer } from 'node:v8';
import { SharedMemoryError, ShmexError } from '../errors.js';
import type { Peer, SegmentBook } from '../shm/segment-book.js';
import { parseSegmentName } from '../shm/segment-names.js';
import { VIEW_KINDS } from './array-kinds.js';
import type { Encoded } from './encode.js';
import { ownView } from './own-view.js';
import { RecordArray } from './records.js';
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
import { wrapperNamed } from './wrappers.js';

class MalformedPayloadError extends ShmexError {
  constructor(detail: string) {
    super('ERR_SHMEX_MALFORMED_PAYLOAD', `malformed shmex payload: ${detail}`);
  }
}

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
    const kindIndex = this.readUint32();
    const kind = VIEW_KINDS[kindIndex];
    if (kind === undefined) throw new MalformedPayloadError(`unknown view kind ${kindIndex}`);
    if (tag === TAG_BYTES) {
      const length = this.readDouble();
      const bytes = this.readRawBytes(length) as Buffer;
      const copy = new ArrayBuffer(length);
      new Uint8Array(copy).set(bytes);
      return kind.make(copy, 0, length);
    }
    if (tag !== TAG_VIEW) throw new MalformedPayloadError(`unknown host object tag ${tag}`);
    const index = this.readUint32();
    const byteOffset = this.readDouble();
    const byteLength = this.readDouble();
    const buffer = this.buffers[index];
    if (buffer === undefined) throw new MalformedPayloadError(`buffer ${index} is not defined`);
    if (!(byteOffset >= 0 && byteLength >= 0 && byteOffset + byteLength <= buffer.byteLength)) {
      throw new MalformedPayloadError(
        `a view [${byteOffset}, +${byteLength}) exceeds its buffer of ${buffer.byteLength}`,
      );
    }
    return kind.make(buffer, byteOffset, byteLength);
  }
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
    const name = (d.readRawBytes(d.readUint32()) as Buffer).toString('latin1');
    const capacity = d.readDouble();
    const dataOffset = d.readDouble();
    const mode = SEGMENT_MODES[d.readUint32()];
    if (parseSegmentName(name) === undefined) {
      throw new SharedMemoryError(`refusing to map '${name}': not a shmex segment name`, undefined, 'EINVAL');
    }
    if (mode === undefined || !(dataOffset >= 0 && dataOffset + byteLength <= capacity)) {
      throw new MalformedPayloadError(`bad reference to segment ${name}`);
    }
    mapping = r.book.receive({ name, capacity, dataOffset, byteLength, mode }, r.from);
    r.received.push(name);
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

function rebuildSpecial(header: SpecialHeader, buffers: ArrayBufferLike[]): unknown {
  switch (header.k) {
    case 'record':
      return new RecordArray(header.layout, header.data.buffer, header.data.byteOffset, header.length);
    case 'sab':
      return buffers[header.index];
    case 'wrapper': {
      const entry = wrapperNamed(header.name);
      if (entry === undefined) {
        throw new ShmexError(
          'ERR_SHMEX_UNKNOWN_WRAPPER',
          `received an instance of array wrapper '${header.name}', which is not registered in this process (pid ${process.pid}); ` +
            `call registerArrayWrapper(${header.name}, field) here too, for example in the task module or the executor's initializer`,
        );
      }
      return Object.create(entry.cls.prototype);
    }
    default:
      throw new MalformedPayloadError('unknown special value');
  }
}

/**
 * Gives a rebuilt wrapper instance its own fields. Defined, as class fields
 * are, not assigned: assignment would run the class's setters (or throw on
 * a getter-only accessor) and would turn an own '__proto__' into the prototype.
 */
function defineProps(target: object, props: object): void {
  for (const key of Object.keys(props)) {
    Object.defineProperty(target, key, {
      value: (props as Record<string, unknown>)[key],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
}

/**
 * Decodes a payload sent by `from`, whose segment holds are `leases`. If
 * decoding fails, every hold is given back: the arrays already made are
 * released, the segments not yet mapped freed.
 */
export function decode(data: Encoded, book: SegmentBook, from: Peer, leases: readonly string[]): unknown {
  if (!(data instanceof Uint8Array)) {
    const raw = data.raw;
    const own = new Map<ArrayBufferView, ArrayBufferView>();
    if (Array.isArray(raw)) return raw.map((v) => ownView(v, own));
    return ownView(raw, own);
  }
  const d = new PayloadDeserializer(data);
  const r: Receiving = { book, from, received: [] };
  try {
    d.readHeader();
    const version = d.readUint32();
    if (version !== WIRE_VERSION)
      throw new MalformedPayloadError(`wire version ${version}, expected ${WIRE_VERSION}`);
    const count = d.readUint32();
    for (let i = 0; i < count; i++) {
      const { buffer, bare } = readBuffer(d, r);
      d.buffers.push(buffer);
      if (bare) d.transferArrayBuffer(i, buffer as ArrayBuffer);
    }
    const specialCount = d.readUint32();
    const headers: SpecialHeader[] = [];
    for (let i = 0; i < specialCount; i++) {
      const header = d.readValue() as SpecialHeader;
      headers.push(header);
      d.specials.push(rebuildSpecial(header, d.buffers));
    }
    headers.forEach((header, i) => {
      if (header.k === 'wrapper') defineProps(d.specials[i] as object, d.readValue() as object);
    });
    return d.readValue();
  } catch (error) {
    for (const buffer of d.buffers) book.release(buffer);
    const unreceived = [...leases];
    for (const name of r.received) unreceived.splice(unreceived.indexOf(name), 1);
    book.free(unreceived);
    throw error;
  }
}
