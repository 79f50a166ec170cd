// Mappings kept for reuse (the pool's own segments, the cache of others')
// are ArrayBuffers that show only their first MAPPING_WINDOW bytes. V8 counts
// an ArrayBuffer's byteLength as external memory, and a segment kept mapped
// between uses is memory no collection can free: counted whole, it pushed V8
// to collect for nothing (with a small heap, about 10 MB of external memory
// more than at its last full collection starts one). The arrays that live in
// a segment are views of its mapping, and count their own bytes.
// The window holds a segment's .npy header in all but odd cases (a record
// layout of thousands of fields): the bytes beyond it are reached through the
// addon (write, fill) or a view released at once.
import { native } from './native.js';

/** Bytes of a kept mapping its ArrayBuffer shows: the smallest segment's size, so headers fit. */
export const MAPPING_WINDOW = 64 * 1024;

/** Runs `use` on bytes [offset, offset + length) of a kept mapping, past its window too. */
export function withMappingBytes<T>(
  mapping: ArrayBuffer,
  offset: number,
  length: number,
  use: (bytes: Uint8Array) => T,
): T {
  if (offset + length <= mapping.byteLength) return use(new Uint8Array(mapping, offset, length));
  const view = native.view(mapping, offset, length);
  try {
    return use(new Uint8Array(view));
  } finally {
    native.release(view);
  }
}
