// The table of value kinds: the one place that says which kinds of values
// travel and in which order they are recognized. To add a kind, write its
// file (see types.ts) and list it here. Every object the encoder meets is
// classified once, by the first kind whose test accepts it.
//
//   kind                file                 scan                         special
//   plain object        containers.ts        walks its own keys           -
//   array               containers.ts        walks its elements           -
//   view                buffers.ts           lists its buffer             - (host object)
//   ArrayBuffer         buffers.ts           lists it (bare)              - (transferred)
//   SharedArrayBuffer   buffers.ts           lists it                     'sab'
//   Map, Set            containers.ts        walks entries                -
//   shared()            shared-reference.ts  lists its array's segment    - (the array)
//   codec value         coded.ts             codec.encode, walks parts    'codec'
//     (records, user codecs, wrappers: codecs.ts, in that order)
//   Error               opaque.ts            walks its cause              -
//   built-in            opaque.ts            -                            -
//   class instance      opaque.ts            refuses it                   -
//
// The built-in kinds are mutually exclusive and come first, most frequent
// first; from 'codec value' on, order decides (a codec may claim an Error).
import { types } from 'node:util';
import { MalformedPayloadError } from '../../errors.js';
import type { SpecialHeader } from '../wire.js';
import { arrayBufferKind, sharedArrayBufferKind, viewKind } from './buffers.js';
import { codedKind } from './coded.js';
import { mapKind, plainArrayKind, plainObjectKind, setKind } from './containers.js';
import { builtinKind, errorKind, proxyKind, unknownClassKind } from './opaque.js';
import { sharedReferenceKind } from './shared-reference.js';
import type { SpecialReader, ValueKind } from './types.js';

const KINDS: readonly ValueKind[] = [
  plainObjectKind,
  plainArrayKind,
  viewKind,
  arrayBufferKind,
  sharedArrayBufferKind,
  mapKind,
  setKind,
  sharedReferenceKind,
  codedKind,
  errorKind,
  builtinKind,
  unknownClassKind,
];

/** The kind of an object. A Proxy is refused before anything else (its traps are never run). */
export function kindOf(value: object): ValueKind {
  if (types.isProxy(value)) return proxyKind;
  const proto = Object.getPrototypeOf(value) as object | null;
  for (const kind of KINDS) if (kind.test(value, proto)) return kind;
  return unknownClassKind;
}

const READERS = new Map<unknown, SpecialReader>(
  KINDS.flatMap((kind) => (kind.reads === undefined ? [] : [[kind.reads.k, kind.reads.reader] as const])),
);

/** The reader of a special's header (by its tag `k`). */
export function readerOf(header: SpecialHeader): SpecialReader {
  const reader = READERS.get(header.k);
  if (reader === undefined) throw new MalformedPayloadError('unknown special value');
  return reader;
}
