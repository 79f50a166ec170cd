// Small values cross the channel as they are (see Encoded in encode.ts);
// their views are copied on both sides so each has a buffer of its own.
import { types } from 'node:util';
import { VIEW_KINDS, viewKindOf } from './array-kinds.js';

/**
 * A copy of a view with a buffer of its own (one copy per distinct view, in
 * `copies`: needed only where the same view may come twice, a list of two or more). The channel's V8 deserializer makes views into its message
 * buffer, at an offset and over the rest of the message; the sender
 * snapshots its views the same way, so later writes do not reach the copy.
 */
export function ownView(value: unknown, copies?: Map<ArrayBufferView, ArrayBufferView>): unknown {
  if (!ArrayBuffer.isView(value)) return value;
  let copy = copies?.get(value);
  if (copy === undefined) {
    // Not zero-filled first: every byte is written next.
    const buffer = Buffer.allocUnsafeSlow(value.byteLength).buffer as ArrayBuffer;
    new Uint8Array(buffer).set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    copy = VIEW_KINDS[viewKindOf(value)!]!.make(buffer, 0, value.byteLength);
    copies?.set(value, copy);
  }
  return copy;
}

/** Snapshots up to this size share slabs (see snapshotView); larger ones get a buffer of their own. */
const SLAB_BYTES = 256 * 1024;
const MAX_IN_SLAB = 16 * 1024;
let slab: ArrayBuffer | undefined;
let slabUsed = 0;

/**
 * As ownView, for a value that will only be serialized (to a worker
 * process's pipe, whose receiver copies it again): small views are copied
 * into a shared slab instead of a buffer each, since one allocation per tiny
 * task is what the garbage collector spent most of its time on. A slab lives
 * until every snapshot in it is collected. Never for a thread's port: it
 * moves (detaches) the buffers of what it sends.
 */
export function snapshotView(value: unknown, copies?: Map<ArrayBufferView, ArrayBufferView>): unknown {
  if (!ArrayBuffer.isView(value)) return value;
  const n = value.byteLength;
  if (n > MAX_IN_SLAB) return ownView(value, copies);
  let copy = copies?.get(value);
  if (copy === undefined) {
    if (slab === undefined || slabUsed + n > SLAB_BYTES) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES).buffer as ArrayBuffer;
      slabUsed = 0;
    }
    const at = slabUsed;
    slabUsed = (slabUsed + n + 7) & ~7; // the next one starts aligned for any kind
    copy = VIEW_KINDS[viewKindOf(value)!]!.make(slab, at, n);
    if (types.isTypedArray(copy) && copy.constructor === value.constructor) {
      // Same kind: a byte copy, without two Uint8Arrays made for it.
      (copy as Uint8Array).set(value as Uint8Array);
    } else {
      new Uint8Array(slab, at, n).set(new Uint8Array(value.buffer, value.byteOffset, n));
    }
    copies?.set(value, copy);
  }
  return copy;
}
