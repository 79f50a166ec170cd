// `import 'shmex/ndarray'`: scijs ndarrays travel to and from tasks with
// their data through shared memory (the whole data array, once) and their
// shape, stride and offset kept, so views (transposed, sliced, stepped)
// arrive as the same views. Import it in the task module too. Needs the
// optional peer dependency ndarray.
import ndarray, { type NdArray } from 'ndarray';
import { registerArrayCodec } from '../transfer/codecs.js';

interface Parts {
  data: NdArray['data'];
  shape: number[];
  stride: number[];
  offset: number;
}

function isNdArray(value: object): value is NdArray {
  const v = value as Partial<NdArray>;
  return (
    typeof v.pick === 'function' &&
    typeof v.offset === 'number' &&
    Array.isArray(v.shape) &&
    Array.isArray(v.stride) &&
    typeof v.dtype === 'string' &&
    v.data !== undefined
  );
}

registerArrayCodec({
  name: 'ndarray',
  test: isNdArray,
  encode: (a: NdArray): Parts => ({
    data: a.data,
    shape: [...a.shape],
    stride: [...a.stride],
    offset: a.offset,
  }),
  decode: (p: Parts) => ndarray(p.data, p.shape, p.stride, p.offset),
});
