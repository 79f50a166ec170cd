// Typed arrays, DataViews and Node Buffers (views), ArrayBuffers and
// SharedArrayBuffers: values that hold bytes and no other value. A view
// crosses as a host object of V8's serializer naming its buffer in the
// payload's table (or, for a small Node Buffer, as its own bytes); a bare
// ArrayBuffer as a V8 "transferred" buffer; a SharedArrayBuffer as a special.
import type { Deserializer, Serializer } from 'node:v8';
import { MalformedPayloadError, NotTransferableError } from '../../errors.js';
import { quoteDescr } from '../../shm/npy-header.js';
import { BUFFER_KIND, VIEW_KINDS, viewKindOf } from '../array-kinds.js';
import { renderPath } from '../path.js';
import { TAG_BYTES, TAG_VIEW } from '../wire.js';
import type { BufferEntry, ValueKind } from './types.js';

export function isShared(buffer: unknown): buffer is SharedArrayBuffer {
  return typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer;
}

/** A typed array, DataView or (Shared)ArrayBuffer: an object that holds no other value. */
export function isBufferLike(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || isShared(value);
}

export const viewKind: ValueKind<ArrayBufferView> = {
  name: 'view',
  leaf: true,
  test: (value): value is ArrayBufferView => ArrayBuffer.isView(value),
  scan(value, path, s) {
    const kind = viewKindOf(value);
    if (kind === undefined) {
      throw new NotTransferableError(
        renderPath(path),
        `it is an instance of ${(value.constructor as { name?: string } | undefined)?.name ?? 'an unknown class'}, a subclass of a built-in view`,
        'Pass the plain typed array, or wrap it in a class registered with registerArrayWrapper().',
      );
    }
    if (kind === BUFFER_KIND && value.byteLength < s.threshold && s.book.infoOf(value.buffer) === undefined) {
      return; // travels as its own bytes
    }
    const k = VIEW_KINDS[kind]!;
    const start = value.byteOffset;
    const entry = s.addBuffer(
      value.buffer,
      path,
      quoteDescr(k.dtype),
      [value.byteLength / k.bytesPerElement],
      {
        start,
        end: start + value.byteLength,
      },
    );
    entry.views = (entry.views ?? 0) + 1;
  },
  write: (value) => value,
};

/** Writes a view as a host object: its kind and its place in a buffer of the table, or its own bytes. */
export function writeView(s: Serializer, view: ArrayBufferView, entry: BufferEntry | undefined): void {
  const kind = viewKindOf(view)!;
  if (entry === undefined || view.byteOffset < entry.start || view.byteOffset + view.byteLength > entry.end) {
    // A small Node Buffer: its own bytes only (it may sit in Node's shared 8 KiB pool), unless
    // other views of its buffer travel and the range they cover holds it.
    s.writeUint32(TAG_BYTES);
    s.writeUint32(kind);
    s.writeDouble(view.byteLength);
    s.writeRawBytes(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return;
  }
  s.writeUint32(TAG_VIEW);
  s.writeUint32(kind);
  s.writeUint32(entry.index);
  // The receiver's buffer holds the bytes [entry.start, entry.end) of ours.
  s.writeDouble(view.byteOffset - entry.start);
  s.writeDouble(view.byteLength);
}

/** A non-negative integer multiple of `unit`. */
function isWhole(n: number, unit: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n % unit === 0;
}

/** Reads what writeView wrote, after its tag. */
export function readView(d: Deserializer, tag: number, buffers: readonly ArrayBufferLike[]): ArrayBufferView {
  const kindIndex = d.readUint32();
  const kind = VIEW_KINDS[kindIndex];
  if (kind === undefined) throw new MalformedPayloadError(`unknown view kind ${kindIndex}`);
  if (tag === TAG_BYTES) {
    const length = d.readDouble();
    if (!isWhole(length, kind.bytesPerElement))
      throw new MalformedPayloadError(`bad inline view length ${length}`);
    const bytes = d.readRawBytes(length) as Buffer;
    const copy = new ArrayBuffer(length);
    new Uint8Array(copy).set(bytes);
    return kind.make(copy, 0, length);
  }
  if (tag !== TAG_VIEW) throw new MalformedPayloadError(`unknown host object tag ${tag}`);
  const index = d.readUint32();
  const byteOffset = d.readDouble();
  const byteLength = d.readDouble();
  const buffer = buffers[index];
  if (buffer === undefined) throw new MalformedPayloadError(`buffer ${index} is not defined`);
  if (!(byteOffset >= 0 && byteLength >= 0 && byteOffset + byteLength <= buffer.byteLength)) {
    throw new MalformedPayloadError(
      `a view [${byteOffset}, +${byteLength}) exceeds its buffer of ${buffer.byteLength}`,
    );
  }
  if (!isWhole(byteOffset, kind.bytesPerElement) || !isWhole(byteLength, kind.bytesPerElement)) {
    throw new MalformedPayloadError(
      `a view [${byteOffset}, +${byteLength}) is not aligned to its ${kind.bytesPerElement}-byte elements`,
    );
  }
  return kind.make(buffer, byteOffset, byteLength);
}

export const arrayBufferKind: ValueKind<ArrayBuffer> = {
  name: 'ArrayBuffer',
  leaf: true,
  test: (value): value is ArrayBuffer => value instanceof ArrayBuffer,
  scan(value, path, s) {
    s.addBuffer(value, path).bare = true;
  },
  write: (value) => value,
};

export const sharedArrayBufferKind: ValueKind<SharedArrayBuffer> = {
  name: 'SharedArrayBuffer',
  leaf: true,
  special: true,
  test: (value): value is SharedArrayBuffer => isShared(value),
  scan(value, path, s) {
    s.addBuffer(value, path);
    s.needsCopy = true;
  },
  write: (value, w) => w.marker(value, { k: 'sab', index: w.buffers.get(value)!.index }),
  reads: {
    k: 'sab',
    reader: { read: (header, r) => r.buffers[(header as { index: number }).index] },
  },
};
