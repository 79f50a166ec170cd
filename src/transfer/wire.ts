// The payload format shared by encode.ts and decode.ts. A payload is V8's
// serialization format with host-object hooks for views:
//
//   v8 header | u32 version | buffer table | specials | root
//
// buffer table: u32 count, then per buffer: u32 flags, f64 byteLength, and
//   either (segment) u32 name length, name bytes, f64 capacity, f64 data
//   offset, f64 data length, f64 start (where in the data the buffer's
//   byteLength bytes begin), u32 mode (index in SEGMENT_MODES),
//   or (inline) the bytes themselves.
// A buffer's bytes are the covering range of the sender's views of it (see
// BufferEntry.start), not the sender's whole buffer; views are written with
// byteOffsets relative to its start.
// specials (values V8 cannot carry as they are: bare SharedArrayBuffers, and
//   codec values, records and wrapper instances included): u32 count, one
//   header value each, then the late fields of each header that has them (a
//   wrapper's own fields), so wrappers may refer to each other in cycles.
//   Each kind of value writes and reads its own (see kinds/).
// root: u32 ROOT_VALUE and the value (V8's format, views as host objects), or
//   ROOT_VIEW or ROOT_LIST (u32 length) and that many items, each u32
//   ITEM_VIEW and the fields writeView writes (tag first), or ITEM_VALUE and a
//   primitive: a view, or a list of views and primitives (an argument list),
//   decoded without V8's deserializer ever holding a view, so that a dropped
//   result or argument is freed by one collection (see collect.ts).
// In a V8 root and in specials, views are host objects (TAG_*); bare
// ArrayBuffers in the table are passed as V8 "transferred" buffers whose id
// is their table index.
export const WIRE_VERSION = 5;

export const ROOT_VALUE = 0;
export const ROOT_VIEW = 1;
export const ROOT_LIST = 2;
/** Longest root list written item by item: longer ones (a result's array of numbers beside a large view) go as one V8 value, which costs less than item by item. */
export const MAX_ROOT_ITEMS = 64;
export const ITEM_VALUE = 0;
export const ITEM_VIEW = 1;

export const BUFFER_SHARED = 1; // a SharedArrayBuffer: rebuilt as one
export const BUFFER_SEGMENT = 2; // bytes live in a segment, not in the payload
// The buffer itself appears in the value (not only views of it): passed as a V8
// transferred buffer. Only then, since V8's deserializer keeps transferred buffers
// alive until it is itself collected, which delays returning their segments.
export const BUFFER_BARE = 4;

export const SEGMENT_MODES = ['copy', 'private', 'shared'] as const;

export const TAG_VIEW = 1; // u32 kind, u32 buffer index, f64 byteOffset, f64 byteLength
export const TAG_BYTES = 2; // u32 kind, f64 byteLength, bytes (small Node Buffers: own bytes only)
export const TAG_SPECIAL = 3; // u32 special index

export type SpecialHeader =
  | { k: 'sab'; index: number }
  /** A value of a codec (records and wrappers included), as its parts (see codecs.ts). */
  | { k: 'codec'; name: string; parts: unknown };
