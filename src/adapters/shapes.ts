// How the values the adapters handle are recognised, without importing their
// libraries: the adapters' codecs test values with these, and the encoder
// uses them to tell a user who passes such a value without having imported
// the adapter which import is missing (instead of suggesting
// registerArrayWrapper, which does not fit these classes).

/** The fields of a scijs ndarray (from the `ndarray` package) that its codec uses. */
export interface NdArrayShape {
  data: unknown;
  shape: number[];
  stride: number[];
  offset: number;
  dtype: string;
  pick: (...indices: unknown[]) => unknown;
}

export function isNdArray(value: object): value is NdArrayShape {
  const v = value as Partial<NdArrayShape>;
  return (
    typeof v.pick === 'function' &&
    typeof v.offset === 'number' &&
    Array.isArray(v.shape) &&
    Array.isArray(v.stride) &&
    typeof v.dtype === 'string' &&
    v.data !== undefined
  );
}

/** A stdlib ndarray (@stdlib/ndarray-base-ctor and the @stdlib/ndarray constructors built on it). */
export interface StdlibNdarray {
  dtype: string;
  data: ArrayLike<unknown>;
  shape: number[];
  strides: number[];
  offset: number;
  order: 'row-major' | 'column-major';
  get(...indices: number[]): unknown;
}

export function isStdlibNdarray(value: object): value is StdlibNdarray {
  const v = value as Partial<StdlibNdarray>;
  return (
    typeof v.get === 'function' &&
    typeof v.dtype === 'string' &&
    Array.isArray(v.shape) &&
    Array.isArray(v.strides) &&
    typeof v.offset === 'number' &&
    (v.order === 'row-major' || v.order === 'column-major') &&
    v.data !== undefined
  );
}

/** An Apache Arrow Table, RecordBatch or Vector, by its class name and a field each has. */
function arrowClassOf(value: object): string | undefined {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  const has = (key: string) => key in value;
  if (name === 'Table' && has('schema') && has('batches')) return 'Table';
  if (name === 'RecordBatch' && has('schema') && has('data')) return 'RecordBatch';
  if (name === 'Vector' && has('data') && has('type')) return 'Vector';
  return undefined;
}

export interface Adapter {
  /** What the value is, for a message: "an Apache Arrow Table". */
  what: string;
  /** The shmex entry point whose import registers its codec. */
  entry: 'shmex/arrow' | 'shmex/ndarray' | 'shmex/stdlib-ndarray';
}

/** The adapter that handles `value`, if it is a value of one of the adapters' libraries. */
export function adapterFor(value: object): Adapter | undefined {
  const arrow = arrowClassOf(value);
  if (arrow !== undefined) return { what: `an Apache Arrow ${arrow}`, entry: 'shmex/arrow' };
  if (isNdArray(value)) return { what: 'a scijs ndarray', entry: 'shmex/ndarray' };
  if (isStdlibNdarray(value)) return { what: 'a stdlib ndarray', entry: 'shmex/stdlib-ndarray' };
  return undefined;
}
