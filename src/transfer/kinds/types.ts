// What a value kind is, and what the encoder and decoder offer it. Each kind
// (kinds/*.ts) says how a value of that kind is scanned (checked, its
// buffers listed, its children visited), written (what V8's serializer gets
// in its place) and, for a special, read back. The table (kinds/table.ts)
// orders them; the encoder and decoder only dispatch.
import type { SegmentBook, SegmentRef } from '../../shm/segment-book.js';
import type { ArrayCodec } from '../codecs.js';
import type { PathNode } from '../path.js';
import type { SpecialHeader } from '../wire.js';

export interface BufferEntry {
  index: number;
  buffer: ArrayBufferLike;
  shared: boolean;
  /**
   * The bytes of the buffer that travel, [start, end): the covering range of
   * its views (start aligned down to 8 bytes, so every view stays aligned to
   * its elements), or the whole buffer when anything needs it whole (a bare
   * buffer, a record array, a SharedArrayBuffer). Views are written with
   * byteOffsets relative to `start`. See Scan.cover().
   */
  start: number;
  end: number;
  /** Something in the value needs the whole buffer. */
  whole?: boolean;
  /**
   * numpy descr and shape for the segment header, and the byte range they
   * describe: used if that range is the one that travels.
   */
  layout?: { descr: string; shape: number[]; start: number; end: number };
  segment?: SegmentRef;
  /** The buffer itself is part of the value, not only views of it. */
  bare?: boolean;
  /** Views of it in the value. */
  views?: number;
  /** Passed with shared(): the receiver maps it by reference. */
  byReference?: boolean;
}

/** A value a codec handles, and the parts it travels as. */
export interface CodedValue {
  codec: ArrayCodec;
  parts: unknown;
  /** The parts came from the codec's own scan: plain data and views of listed buffers, written as they are. */
  scanned?: boolean;
}

/** The encoder's walk over a value, as the kinds see it (scan.ts). */
export interface ScanContext {
  readonly threshold: number;
  readonly book: SegmentBook;
  readonly buffers: Map<ArrayBufferLike, BufferEntry>;
  readonly codedValues: Map<object, CodedValue>;
  /** Set by a kind that V8 cannot carry as it is: the value is copied, its specials replaced by markers. */
  needsCopy: boolean;
  visit(value: unknown, path: PathNode): void;
  /** Visits an Error's cause, where V8 carries values as they are: no special may sit there. */
  visitCause(value: unknown, path: PathNode): void;
  /**
   * Lists a buffer the value needs; `range`: only these bytes of it (a view),
   * else all of it. `descr` and `shape` describe `range` for a segment header.
   */
  addBuffer(
    buffer: ArrayBufferLike,
    path: PathNode,
    descr?: string,
    shape?: number[],
    range?: { start: number; end: number },
  ): BufferEntry;
}

/** The copy of a value handed to V8's serializer (specials.ts). */
export interface WriteContext {
  readonly buffers: ReadonlyMap<ArrayBufferLike, BufferEntry>;
  readonly codedValues: ReadonlyMap<object, CodedValue>;
  copy(value: unknown): unknown;
  /** Records `out` as the copy of `original` before its children are copied (cycles, shared objects). */
  memo<T>(original: object, out: T): T;
  /** A marker view that stands for a special in the copy; `late` is written after every special's header. */
  marker(original: object, header: SpecialHeader, late?: object): DataView;
  /** Copies own enumerable properties, defined rather than assigned (an own '__proto__' stays a property). */
  copyProps(value: object, out: Record<string, unknown>): Record<string, unknown>;
}

/** What a special's reader gets: the payload's buffers. */
export interface ReadContext {
  readonly buffers: readonly ArrayBufferLike[];
}

/** Reads back the specials of one header tag (`k`). */
export interface SpecialReader {
  /** Makes the value from its header, in the order the encoder met them. */
  read(header: SpecialHeader, r: ReadContext): unknown;
  /** Fields written after every header (see WriteContext.marker), given once every special is made. */
  readLate?(header: SpecialHeader, value: unknown, late: unknown): void;
  /** Whether `header` has late fields to read. */
  hasLate?(header: SpecialHeader): boolean;
}

export interface ValueKind<T extends object = any> {
  readonly name: string;
  /** Whether `value` (an object, not a Proxy) is of this kind; `proto` is its prototype. */
  test(value: object, proto: object | null): value is T;
  /** Holds no other value (a view, a buffer): not a level of depth. */
  readonly leaf?: boolean;
  /** Rebuilt from a special header: V8 cannot carry it as it is, so it may not sit in an Error's cause. */
  readonly special?: boolean;
  /** Checks the value, lists its buffers, visits what it holds. Throws NotTransferableError. */
  scan(value: T, path: PathNode, s: ScanContext): void;
  /** What V8's serializer gets in its place (called only when the value needs copying). */
  write(value: T, w: WriteContext): unknown;
  /** The header tag (`k`) of its specials, and their reader. */
  readonly reads?: { k: SpecialHeader['k']; reader: SpecialReader };
}
