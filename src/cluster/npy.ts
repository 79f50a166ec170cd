// The .npy header of a blob: the same self-description a shmex segment
// starts with, so a blob's bytes are a .npy file (header, then data).

const DESCR: Record<string, string> = {
  Int8Array: '|i1',
  Uint8Array: '|u1',
  Uint8ClampedArray: '|u1',
  Int16Array: '<i2',
  Uint16Array: '<u2',
  Int32Array: '<i4',
  Uint32Array: '<u4',
  Float32Array: '<f4',
  Float64Array: '<f8',
  BigInt64Array: '<i8',
  BigUint64Array: '<u8',
  Float16Array: '<f2',
};

/** The header (magic, version 1.0, dict padded to 64 bytes) of a one-dimensional array of `length` items. */
export function npyHeader(type: string, length: number): Uint8Array {
  const descr = DESCR[type] ?? '|u1';
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${length},), }`;
  const unpadded = 10 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const header = Buffer.alloc(total, 0x20);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  header.writeUInt16LE(total - 10, 8);
  header.write(dict, 10, 'latin1');
  header[total - 1] = 0x0a;
  return header;
}

/** The shape's length a header announces, or undefined if it is not one of ours. */
export function npyLength(header: Uint8Array): number | undefined {
  const text = Buffer.from(header.buffer, header.byteOffset, header.byteLength).toString('latin1');
  if (!text.startsWith('\x93NUMPY')) return undefined;
  const match = /'shape': \((\d+),\)/.exec(text);
  return match === null ? undefined : Number(match[1]);
}
