// Values that V8 cannot carry as they are (Arrow tables, records, wrapper
// instances, values of registered codecs) cross machines through the same
// codecs (src/transfer/codecs.ts) as they cross processes: a codec turns the
// value into parts, the parts travel as any value does (their large arrays as
// blobs), and the codec of that name rebuilds the value on the other side.
// Built-in codecs with late fields (wrappers) also send the value's own
// fields, given to the rebuilt value once it exists, so wrappers may refer to
// each other or to themselves.
import { CodecError, NotTransferableError } from '../errors.js';
import { type ArrayCodec, codecNamed, isBuiltinCodec } from '../transfer/codecs.js';
// Imported for the built-in codecs they register (records, wrappers).
import '../transfer/kinds/coded.js';
import { wrapperNamed } from '../transfer/wrappers.js';
import { UnregisteredValueError } from './errors.js';

/** What a codec value travels as. */
export interface CodedMarker {
  kind: 'codec';
  name: string;
  parts: unknown;
  /** The value's own fields (built-in codecs with late fields: wrappers). */
  late?: Record<string, unknown>;
}

/**
 * The marker of `value`, whose parts and late fields are walked by `walk`
 * (which turns their large arrays into blobs). `holder` is the object that
 * stands for the value in the message: it is filled last, so a field that
 * refers back to the value refers to the holder.
 */
export function encodeCoded(
  value: object,
  codec: ArrayCodec,
  path: string,
  holder: Record<string, unknown>,
  mark: string,
  walk: (v: unknown, path: string) => unknown,
  /** Parts already made for values (within one map), so their arrays are uploaded once. */
  made?: Map<object, unknown>,
): Record<string, unknown> {
  let parts: unknown;
  try {
    parts = made?.has(value) ? made.get(value) : codec.encode(value);
    made?.set(value, parts);
  } catch (error) {
    throw new NotTransferableError(
      path,
      `its codec '${codec.name}' failed to encode it: ${(error as Error)?.message ?? String(error)}`,
      'Check the value, or pass its arrays yourself.',
      { cause: error },
    );
  }
  const marker: CodedMarker = {
    kind: 'codec',
    name: codec.name,
    parts: walk(parts, `${path}.<${codec.name}>`),
  };
  if (isBuiltinCodec(codec) && codec.late !== undefined) {
    const source = codec.late.of(value) as Record<string, unknown>;
    const late: Record<string, unknown> = {};
    for (const key of Object.keys(source)) {
      Object.defineProperty(late, key, {
        value: walk(source[key], `${path}.${key}`),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    marker.late = late;
  }
  holder[mark] = marker;
  return holder;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function codecFor(marker: CodedMarker): ArrayCodec {
  const codec = codecNamed(marker.name);
  const wrapper = (marker.parts as { name?: unknown } | null)?.name;
  if (marker.name === 'shmex.wrapper' && typeof wrapper === 'string' && wrapperNamed(wrapper) === undefined) {
    throw new UnregisteredValueError(`an instance of array wrapper '${wrapper}'`);
  }
  if (codec === undefined) throw new UnregisteredValueError(`a value of codec '${marker.name}'`);
  return codec;
}

/**
 * Replaces, in place, every codec marker of a decoded message (its blobs
 * already downloaded) by the value its codec rebuilds. Returns the new root.
 */
export function rebuildCoded(root: unknown, mark: string): unknown {
  const memo = new Map<object, unknown>();
  const rebuild = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return v;
    if (memo.has(v)) return memo.get(v);
    if (Array.isArray(v)) {
      memo.set(v, v);
      for (let i = 0; i < v.length; i++) v[i] = rebuild(v[i]);
      return v;
    }
    if (v instanceof Map) {
      memo.set(v, v);
      for (const [k, item] of v) v.set(k, rebuild(item));
      return v;
    }
    if (!isPlain(v)) return v;
    const record = v as Record<string, unknown>;
    const marker = Object.hasOwn(record, mark) ? (record[mark] as CodedMarker) : undefined;
    if (marker?.kind === 'codec') {
      const codec = codecFor(marker);
      const parts = rebuild(marker.parts);
      let value: unknown;
      if (isBuiltinCodec(codec)) value = codec.decode(parts);
      else {
        try {
          value = codec.decode(parts);
        } catch (error) {
          throw new CodecError(codec.name, error);
        }
      }
      memo.set(v, value);
      if (marker.late !== undefined && isBuiltinCodec(codec)) {
        codec.late?.fill(value as object, rebuild(marker.late) as Record<string, unknown>);
      }
      return value;
    }
    memo.set(v, v);
    for (const key of Object.keys(record)) {
      const item = record[key];
      const rebuilt = rebuild(item);
      // Defined, not assigned: an own '__proto__' key stays a key.
      if (rebuilt !== item)
        Object.defineProperty(record, key, {
          value: rebuilt,
          writable: true,
          enumerable: true,
          configurable: true,
        });
    }
    return v;
  };
  return rebuild(root);
}
