// `import 'shmex/arrow'`: Apache Arrow tables, record batches and vectors
// travel to and from tasks as Arrow IPC bytes in shared memory, and are read
// back without a copy (the columns are views into the segment). Import it in
// the task module too. Needs the optional peer dependency apache-arrow.
import type * as Arrow from 'apache-arrow';
import { registerArrayCodec } from '../transfer/codecs.js';
import { importPeer } from './peer.js';

const { RecordBatch, Table, tableFromIPC, tableToIPC, Vector } = await importPeer<typeof Arrow>(
  'apache-arrow',
  'shmex/arrow',
);
type Table = Arrow.Table;
type RecordBatch = Arrow.RecordBatch;
type Vector = Arrow.Vector;

registerArrayCodec({
  name: 'apache-arrow.Table',
  test: (value): value is Table => value instanceof Table,
  encode: (table: Table) => tableToIPC(table, 'stream'),
  decode: (bytes: Uint8Array) => tableFromIPC(bytes),
});

registerArrayCodec({
  name: 'apache-arrow.RecordBatch',
  test: (value): value is RecordBatch => value instanceof RecordBatch,
  encode: (batch: RecordBatch) => tableToIPC(new Table(batch), 'stream'),
  decode: (bytes: Uint8Array) => tableFromIPC(bytes).batches[0]!,
});

registerArrayCodec({
  name: 'apache-arrow.Vector',
  test: (value): value is Vector => value instanceof Vector,
  encode: (vector: Vector) => tableToIPC(new Table({ v: vector }), 'stream'),
  decode: (bytes: Uint8Array) => tableFromIPC(bytes).getChild('v')!,
});
