// Structured (record) arrays: fixed-size records with named, typed fields at
// fixed offsets, stored in one buffer (numpy's structured arrays). The layout
// travels with the data, offsets and padding included.
import { InvalidArgumentError } from '../errors.js';
import { describeValue } from '../options.js';
import { registerBuiltinCodec } from './codecs.js';

export type FieldValue = number | bigint | boolean;

interface ScalarType {
  size: number;
  get(view: DataView, offset: number, little: boolean): FieldValue;
  set(view: DataView, offset: number, value: FieldValue, little: boolean): void;
  array?: new (length: number) => ArrayLike<FieldValue> & { [i: number]: FieldValue };
}

const num = (v: FieldValue): number => Number(v);
const big = (v: FieldValue): bigint => (typeof v === 'bigint' ? v : BigInt(v as number));

const SCALARS: Record<string, ScalarType> = {
  b1: { size: 1, get: (v, o) => v.getUint8(o) !== 0, set: (v, o, x) => v.setUint8(o, x ? 1 : 0) },
  i1: { size: 1, get: (v, o) => v.getInt8(o), set: (v, o, x) => v.setInt8(o, num(x)), array: Int8Array },
  u1: { size: 1, get: (v, o) => v.getUint8(o), set: (v, o, x) => v.setUint8(o, num(x)), array: Uint8Array },
  i2: {
    size: 2,
    get: (v, o, l) => v.getInt16(o, l),
    set: (v, o, x, l) => v.setInt16(o, num(x), l),
    array: Int16Array,
  },
  u2: {
    size: 2,
    get: (v, o, l) => v.getUint16(o, l),
    set: (v, o, x, l) => v.setUint16(o, num(x), l),
    array: Uint16Array,
  },
  i4: {
    size: 4,
    get: (v, o, l) => v.getInt32(o, l),
    set: (v, o, x, l) => v.setInt32(o, num(x), l),
    array: Int32Array,
  },
  u4: {
    size: 4,
    get: (v, o, l) => v.getUint32(o, l),
    set: (v, o, x, l) => v.setUint32(o, num(x), l),
    array: Uint32Array,
  },
  i8: {
    size: 8,
    get: (v, o, l) => v.getBigInt64(o, l),
    set: (v, o, x, l) => v.setBigInt64(o, big(x), l),
    array: BigInt64Array,
  },
  u8: {
    size: 8,
    get: (v, o, l) => v.getBigUint64(o, l),
    set: (v, o, x, l) => v.setBigUint64(o, big(x), l),
    array: BigUint64Array,
  },
  f4: {
    size: 4,
    get: (v, o, l) => v.getFloat32(o, l),
    set: (v, o, x, l) => v.setFloat32(o, num(x), l),
    array: Float32Array,
  },
  f8: {
    size: 8,
    get: (v, o, l) => v.getFloat64(o, l),
    set: (v, o, x, l) => v.setFloat64(o, num(x), l),
    array: Float64Array,
  },
};

const NAMED: Record<string, string> = {
  bool: 'b1',
  int8: 'i1',
  uint8: 'u1',
  int16: 'i2',
  uint16: 'u2',
  int32: 'i4',
  uint32: 'u4',
  int64: 'i8',
  uint64: 'u8',
  float32: 'f4',
  float64: 'f8',
};

export interface RecordField {
  readonly name: string;
  /** numpy dtype string with byte order, e.g. '<f8', '>i4', '|b1'. */
  readonly dtype: string;
  readonly offset: number;
  readonly size: number;
}

/** A numpy-style list of [name, dtype] pairs, packed in order: `[['x', '<f8'], ['id', '<i4']]`. */
export type RecordFieldList = ReadonlyArray<readonly [name: string, dtype: string]>;
/** numpy's dict form, which can place fields at explicit offsets and pad the record. */
export interface RecordLayoutSpec {
  names: readonly string[];
  formats: readonly string[];
  offsets?: readonly number[];
  itemsize?: number;
}

function parseDtype(dtype: unknown, where: string): { dtype: string; type: ScalarType; little: boolean } {
  if (typeof dtype !== 'string')
    throw new InvalidArgumentError(`${where}: a dtype must be a string such as '<f8'`);
  let code = NAMED[dtype] ?? dtype;
  let order = '<';
  if (code[0] === '<' || code[0] === '>' || code[0] === '|' || code[0] === '=') {
    order = code[0] === '=' ? '<' : code[0];
    code = code.slice(1);
  }
  code = code.replace(/^\?$/, 'b1');
  const type = SCALARS[code];
  if (type === undefined) {
    throw new InvalidArgumentError(
      `${where}: unsupported dtype '${dtype}'; use one of ${Object.keys(SCALARS).join(', ')} with an optional byte order (<, >, |) or a name such as float64`,
    );
  }
  const little = order !== '>';
  return { dtype: `${type.size === 1 ? '|' : little ? '<' : '>'}${code}`, type, little };
}

/** The layout of one record: fields, offsets and the record size. */
export class RecordLayout {
  readonly fields: readonly RecordField[];
  readonly itemsize: number;
  readonly #byName = new Map<string, { field: RecordField; type: ScalarType; little: boolean }>();

  constructor(spec: RecordFieldList | RecordLayoutSpec | RecordLayout) {
    if (spec instanceof RecordLayout) spec = spec.toSpec();
    const where = 'RecordLayout';
    let names: readonly string[];
    let formats: readonly string[];
    let offsets: readonly number[] | undefined;
    let itemsize: number | undefined;
    if (Array.isArray(spec)) {
      names = spec.map((pair, i) => {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new InvalidArgumentError(
            `${where}: field ${i} must be a [name, dtype] pair such as ['x', '<f8']`,
          );
        }
        return pair[0];
      });
      formats = spec.map((pair) => pair[1]);
    } else if (typeof spec === 'object' && spec !== null && Array.isArray((spec as RecordLayoutSpec).names)) {
      ({ names, formats, offsets, itemsize } = spec as RecordLayoutSpec);
      if (!Array.isArray(formats) || formats.length !== names.length) {
        throw new InvalidArgumentError(`${where}: 'formats' must list one dtype per name`);
      }
      if (offsets !== undefined && (!Array.isArray(offsets) || offsets.length !== names.length)) {
        throw new InvalidArgumentError(`${where}: 'offsets' must list one offset per name`);
      }
    } else {
      throw new InvalidArgumentError(
        `${where}: expected [[name, dtype], ...] or { names, formats, offsets?, itemsize? }`,
      );
    }
    if (names.length === 0) throw new InvalidArgumentError(`${where}: a record needs at least one field`);
    const fields: RecordField[] = [];
    let end = 0;
    names.forEach((name, i) => {
      if (typeof name !== 'string' || name === '')
        throw new InvalidArgumentError(`${where}: field ${i} needs a name`);
      if (this.#byName.has(name)) throw new InvalidArgumentError(`${where}: field '${name}' appears twice`);
      const { dtype, type, little } = parseDtype(formats[i], `${where} field '${name}'`);
      const offset = offsets?.[i] ?? end;
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new InvalidArgumentError(`${where}: field '${name}' has a bad offset ${offset}`);
      }
      const field: RecordField = Object.freeze({ name, dtype, offset, size: type.size });
      for (const other of fields) {
        if (offset < other.offset + other.size && other.offset < offset + type.size) {
          throw new InvalidArgumentError(`${where}: fields '${other.name}' and '${name}' overlap`);
        }
      }
      fields.push(field);
      this.#byName.set(name, { field, type, little });
      end = Math.max(end, offset + type.size);
    });
    const size = itemsize ?? end;
    if (!Number.isSafeInteger(size) || size < end) {
      throw new InvalidArgumentError(`${where}: itemsize ${size} is smaller than the fields need (${end})`);
    }
    this.fields = Object.freeze(fields);
    this.itemsize = size;
  }

  /** The dict form, which round-trips offsets and padding exactly. */
  toSpec(): RecordLayoutSpec {
    return {
      names: this.fields.map((f) => f.name),
      formats: this.fields.map((f) => f.dtype),
      offsets: this.fields.map((f) => f.offset),
      itemsize: this.itemsize,
    };
  }

  /** numpy's descr literal for a .npy header, with '|Vn' entries for padding. */
  npyDescr(): string {
    const parts: string[] = [];
    let at = 0;
    for (const field of [...this.fields].sort((a, b) => a.offset - b.offset)) {
      if (field.offset > at) parts.push(`('', '|V${field.offset - at}')`);
      parts.push(`('${field.name.replace(/[\\']/g, '_')}', '${field.dtype}')`);
      at = field.offset + field.size;
    }
    if (this.itemsize > at) parts.push(`('', '|V${this.itemsize - at}')`);
    return `[${parts.join(', ')}]`;
  }

  /** @internal */
  accessor(name: string) {
    const entry = this.#byName.get(name);
    if (entry === undefined) {
      throw new InvalidArgumentError(
        `no field '${name}' in this record layout (fields: ${this.fields.map((f) => f.name).join(', ')})`,
      );
    }
    return entry;
  }
}

/**
 * An array of `length` records laid out as `layout` describes, in one buffer.
 * Records travel to and from tasks through shared memory like typed arrays.
 */
export class RecordArray {
  readonly layout: RecordLayout;
  readonly length: number;
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly #view: DataView;

  constructor(layout: RecordFieldList | RecordLayoutSpec | RecordLayout, length: number);
  constructor(
    layout: RecordFieldList | RecordLayoutSpec | RecordLayout,
    buffer: ArrayBufferLike,
    byteOffset?: number,
    length?: number,
  );
  constructor(
    layout: RecordFieldList | RecordLayoutSpec | RecordLayout,
    lengthOrBuffer: number | ArrayBufferLike,
    byteOffset = 0,
    length?: number,
  ) {
    this.layout = layout instanceof RecordLayout ? layout : new RecordLayout(layout);
    const itemsize = this.layout.itemsize;
    if (typeof lengthOrBuffer === 'number') {
      if (!Number.isSafeInteger(lengthOrBuffer) || lengthOrBuffer < 0) {
        throw new InvalidArgumentError(
          `RecordArray: length must be a non-negative integer, got ${describeValue(lengthOrBuffer)}`,
        );
      }
      this.buffer = new ArrayBuffer(lengthOrBuffer * itemsize);
      this.byteOffset = 0;
      this.length = lengthOrBuffer;
    } else {
      const available = Math.floor((lengthOrBuffer.byteLength - byteOffset) / itemsize);
      const count = length ?? available;
      if (byteOffset < 0 || count < 0 || count > available) {
        throw new InvalidArgumentError(
          `RecordArray: ${count} records of ${itemsize} bytes do not fit the buffer from offset ${byteOffset}`,
        );
      }
      this.buffer = lengthOrBuffer;
      this.byteOffset = byteOffset;
      this.length = count;
    }
    this.#view = new DataView(this.buffer as ArrayBuffer, this.byteOffset, this.length * itemsize);
  }

  get byteLength(): number {
    return this.length * this.layout.itemsize;
  }

  /** The records' bytes, without a copy. */
  bytes(): Uint8Array {
    return new Uint8Array(this.buffer as ArrayBuffer, this.byteOffset, this.byteLength);
  }

  #at(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`record index ${index} is out of range [0, ${this.length})`);
    }
    return index * this.layout.itemsize;
  }

  getField(index: number, name: string): FieldValue {
    const { field, type, little } = this.layout.accessor(name);
    return type.get(this.#view, this.#at(index) + field.offset, little);
  }

  setField(index: number, name: string, value: FieldValue): void {
    const { field, type, little } = this.layout.accessor(name);
    type.set(this.#view, this.#at(index) + field.offset, value, little);
  }

  /** One record as a plain object. */
  get(index: number): Record<string, FieldValue> {
    const base = this.#at(index);
    const out: Record<string, FieldValue> = {};
    for (const f of this.layout.fields) {
      const { type, little } = this.layout.accessor(f.name);
      out[f.name] = type.get(this.#view, base + f.offset, little);
    }
    return out;
  }

  /** Writes the given fields of one record; fields not named keep their value. */
  set(index: number, values: Readonly<Record<string, FieldValue>>): void {
    for (const [name, value] of Object.entries(values)) this.setField(index, name, value);
  }

  /** A copy of one field across all records, as a typed array (bool fields as Uint8Array). */
  column(name: string): ArrayLike<FieldValue> {
    const { field, type, little } = this.layout.accessor(name);
    const Ctor = type.array ?? Uint8Array;
    const out = new Ctor(this.length);
    for (let i = 0, at = field.offset; i < this.length; i++, at += this.layout.itemsize) {
      const v = type.get(this.#view, at, little);
      out[i] = typeof v === 'boolean' ? Number(v) : v;
    }
    return out;
  }
}

/**
 * Records travel through a built-in codec: the layout and the count in the
 * special's header, the bytes as a view of the record buffer, which the scan
 * lists with the records' numpy descr (so a segment's .npy header describes
 * the records).
 */
registerBuiltinCodec<RecordArray, { layout: RecordLayoutSpec; length: number; data: Uint8Array }>(
  {
    name: 'shmex.record',
    test: (value): value is RecordArray => value instanceof RecordArray,
    encode: (value) => ({ layout: value.layout.toSpec(), length: value.length, data: value.bytes() }),
    decode: ({ layout, length, data }) => new RecordArray(layout, data.buffer, data.byteOffset, length),
    scan(value, path, s) {
      // Its parts hold one view of its buffer, its bytes(): only they travel.
      const start = value.byteOffset;
      s.addBuffer(value.buffer, path, value.layout.npyDescr(), [value.length], {
        start,
        end: start + value.byteLength,
      });
      return this.encode(value);
    },
  },
  'first',
);
