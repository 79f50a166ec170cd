// `import 'shmex/ndarray'`: scijs ndarrays travel to and from tasks with
// their data through shared memory (the whole data array, once) and their
// shape, stride and offset kept, so views (transposed, sliced, stepped)
// arrive as the same views. Import it in the task module too. Needs the
// optional peer dependency ndarray.
import type { NdArray } from 'ndarray';
import { registerArrayCodec } from '../transfer/codecs.js';
import { importPeer } from './peer.js';
import { isNdArray } from './shapes.js';

const { default: ndarray } = await importPeer<{ default: typeof import('ndarray') }>(
  'ndarray',
  'shmex/ndarray',
);

interface Parts {
  data: NdArray['data'];
  shape: number[];
  stride: number[];
  offset: number;
}

registerArrayCodec({
  name: 'ndarray',
  test: (value): value is NdArray => isNdArray(value),
  encode: (a: NdArray): Parts => ({
    data: a.data,
    shape: [...a.shape],
    stride: [...a.stride],
    offset: a.offset,
  }),
  decode: (p: Parts) => ndarray(p.data, p.shape, p.stride, p.offset),
});
