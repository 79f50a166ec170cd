// Each segment starts with a .npy (version 1.0) header, padded so the data
// begins on a 64-byte boundary: a segment is self-describing for listings and
// checks, and numpy can open it with np.load(path, mmap_mode='r').
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;

/** numpy's description of the data: a dtype string such as '<f8', or a structured dtype literal. */
export interface NpyLayout {
  descr: string;
  shape: readonly number[];
}

function headerText(layout: NpyLayout): string {
  const shape = layout.shape.length === 1 ? `(${layout.shape[0]},)` : `(${layout.shape.join(', ')})`;
  return `{'descr': ${layout.descr}, 'fortran_order': False, 'shape': ${shape}, }`;
}

/** Byte length of the header, which is also the data offset. */
export function npyHeaderLength(layout: NpyLayout): number {
  const unpadded = MAGIC.length + 4 + headerText(layout).length + 1;
  return Math.ceil(unpadded / ALIGN) * ALIGN;
}

/** Writes the header into the first npyHeaderLength(layout) bytes of `target`. */
export function writeNpyHeader(target: Uint8Array, layout: NpyLayout): number {
  const total = npyHeaderLength(layout);
  const text = headerText(layout).padEnd(total - MAGIC.length - 4 - 1, ' ');
  target.set(MAGIC, 0);
  target[6] = 1;
  target[7] = 0;
  const length = text.length + 1;
  target[8] = length & 0xff;
  target[9] = length >> 8;
  for (let i = 0; i < text.length; i++) target[10 + i] = text.charCodeAt(i);
  target[total - 1] = 0x0a;
  return total;
}

/** Quotes a numpy dtype string for the header, e.g. '<f8' -> "'<f8'". */
export function quoteDescr(dtype: string): string {
  return `'${dtype}'`;
}
