// Small values cross the IPC channel as they are (see Encoded in encode.ts);
// their views are copied on both sides so each has a buffer of its own.
import { VIEW_KINDS, viewKindOf } from './array-kinds.js';

/**
 * A copy of a view with a buffer of its own (one copy per distinct view, in
 * `copies`). The channel's V8 deserializer makes views into its message
 * buffer, at an offset and over the rest of the message; the sender
 * snapshots its views the same way, so later writes do not reach the copy.
 */
export function ownView(value: unknown, copies: Map<ArrayBufferView, ArrayBufferView>): unknown {
  if (!ArrayBuffer.isView(value)) return value;
  let copy = copies.get(value);
  if (copy === undefined) {
    const buffer = new ArrayBuffer(value.byteLength);
    new Uint8Array(buffer).set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    copy = VIEW_KINDS[viewKindOf(value)!]!.make(buffer, 0, value.byteLength);
    copies.set(value, copy);
  }
  return copy;
}
