// Values a codec handles: records and wrapper instances (built-in codecs)
// and the values of other libraries (registerArrayCodec). Each travels as a
// special: its codec's name and its parts, rebuilt by the codec of that name
// in the receiving process.
import { CodecError, NotTransferableError, ShmexError } from '../../errors.js';
import { type ArrayCodec, codecNamed, codecOf, isBuiltinCodec } from '../codecs.js';
import { renderPath, step } from '../path.js';
// Imported for the built-in codecs they register.
import '../records.js';
import '../wrappers.js';
import type { SpecialHeader } from '../wire.js';
import type { SpecialReader, ValueKind } from './types.js';

type CodecHeader = Extract<SpecialHeader, { k: 'codec' }>;

/**
 * The codec test() found, for the scan that follows it (tests run once per
 * value). Weak: a scan that fails between the two (a codec value where it
 * cannot travel) must not keep the value, and its arrays, alive.
 */
const matched = new WeakMap<object, ArrayCodec>();

function encodeParts(codec: ArrayCodec, value: object, path: Parameters<typeof renderPath>[0]): unknown {
  try {
    return codec.encode(value);
  } catch (error) {
    throw new NotTransferableError(
      renderPath(path),
      `its codec '${codec.name}' failed to encode it: ${(error as Error)?.message ?? String(error)}`,
      'Check the value, or pass its arrays yourself.',
      { cause: error },
    );
  }
}

function codecFor(name: string): ArrayCodec {
  const codec = codecNamed(name);
  if (codec === undefined) {
    throw new ShmexError(
      'ERR_SHMEX_UNKNOWN_CODEC',
      `received a value of codec '${name}', which is not registered in this process (pid ${process.pid}); ` +
        'import the module that registers it (for example shmex/arrow) here too, for example in the task module',
    );
  }
  return codec;
}

const reader: SpecialReader = {
  read(header) {
    const { name, parts } = header as CodecHeader;
    const codec = codecFor(name);
    if (isBuiltinCodec(codec)) return codec.decode(parts);
    try {
      return codec.decode(parts);
    } catch (error) {
      throw new CodecError(name, error);
    }
  },
  hasLate: (header) => {
    const codec = codecNamed((header as CodecHeader).name);
    return codec !== undefined && isBuiltinCodec(codec) && codec.late !== undefined;
  },
  readLate(header, value, late) {
    const codec = codecNamed((header as CodecHeader).name);
    if (codec !== undefined && isBuiltinCodec(codec)) {
      codec.late?.fill(value as object, late as Record<string, unknown>);
    }
  },
};

export const codedKind: ValueKind = {
  name: 'codec value',
  special: true,
  test(value): value is object {
    const codec = codecOf(value);
    if (codec !== undefined) matched.set(value, codec);
    return codec !== undefined;
  },
  scan(value, path, s) {
    const codec = matched.get(value) ?? codecOf(value)!;
    matched.delete(value);
    s.needsCopy = true;
    if (isBuiltinCodec(codec) && codec.scan !== undefined) {
      s.codedValues.set(value, { codec, parts: codec.scan(value, path, s), scanned: true });
      return;
    }
    const parts = encodeParts(codec, value, path);
    s.codedValues.set(value, { codec, parts });
    s.visit(parts, step(path, `<${codec.name}>`));
  },
  write(value, w) {
    const coded = w.codedValues.get(value)!;
    // Parts first: special values inside them (records, other codecs' values) get the lower
    // indexes, so the decoder has rebuilt them when it rebuilds this one.
    const parts = coded.scanned ? coded.parts : w.copy(coded.parts);
    const { codec } = coded;
    const late = isBuiltinCodec(codec) && codec.late !== undefined ? codec.late.of(value) : undefined;
    return w.marker(value, { k: 'codec', name: codec.name, parts }, late);
  },
  reads: { k: 'codec', reader },
};
