// `import 'shmex/stdlib-ndarray'`: stdlib ndarrays (@stdlib/ndarray-base-ctor,
// and the @stdlib/ndarray constructors built on it) travel to and from tasks
// with their data buffer through shared memory and their dtype, shape,
// strides, offset and order kept: any view arrives as the same view. They are
// rebuilt with @stdlib/ndarray-base-ctor. Import it in the task module too.
// Needs the optional peer dependency @stdlib/ndarray-base-ctor.
import { registerArrayCodec } from '../transfer/codecs.js';
import { importPeer } from './peer.js';
import { isStdlibNdarray, type StdlibNdarray } from './shapes.js';

const { default: ndarray } = await importPeer<{ default: typeof import('@stdlib/ndarray-base-ctor') }>(
  '@stdlib/ndarray-base-ctor',
  'shmex/stdlib-ndarray',
);

/** What travels: everything but the methods. */
type Parts = Omit<StdlibNdarray, 'get'>;

type Ctor = new (
  dtype: string,
  buffer: ArrayLike<unknown>,
  shape: number[],
  strides: number[],
  offset: number,
  order: string,
) => StdlibNdarray;

registerArrayCodec({
  name: 'stdlib-ndarray',
  test: isStdlibNdarray,
  encode: (a: StdlibNdarray): Parts => ({
    dtype: a.dtype,
    data: a.data,
    shape: [...a.shape],
    strides: [...a.strides],
    offset: a.offset,
    order: a.order,
  }),
  decode: (p: Parts) =>
    new (ndarray as unknown as Ctor)(p.dtype, p.data, p.shape, p.strides, p.offset, p.order),
});
