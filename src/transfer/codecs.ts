// Array codecs: how values of another library (an Arrow table, an ndarray)
// travel. A codec turns such a value into parts (plain objects, arrays,
// typed arrays: the arrays go through shared memory) and rebuilds it from
// them on the other side. The adapters (src/adapters/) register theirs when
// imported; user code may register its own.
import { InvalidArgumentError } from '../errors.js';

export interface ArrayCodec<T extends object = object, P = unknown> {
  /** The name the codec is known by in every process. */
  name: string;
  /** Whether this codec handles `value`. Called for objects that are not plain data. */
  test(value: object): value is T;
  /** The parts `value` travels as: primitives, plain objects and arrays, typed arrays, ArrayBuffers. */
  encode(value: T): P;
  /** Rebuilds a value from its parts (their arrays mapped from shared memory, not copied). */
  decode(parts: P): T;
}

const byName = new Map<string, ArrayCodec>();

/**
 * Lets values that `codec.test` recognizes travel to and from tasks as
 * `codec.encode` parts. Register it in the workers too (import the module
 * that registers it from the task module, or in the initializer).
 */
export function registerArrayCodec<T extends object, P>(codec: ArrayCodec<T, P>): void {
  if (
    typeof codec !== 'object' ||
    codec === null ||
    typeof codec.name !== 'string' ||
    codec.name === '' ||
    typeof codec.test !== 'function' ||
    typeof codec.encode !== 'function' ||
    typeof codec.decode !== 'function'
  ) {
    throw new InvalidArgumentError('registerArrayCodec: expected { name, test, encode, decode }');
  }
  const existing = byName.get(codec.name);
  if (existing !== undefined && existing !== (codec as unknown as ArrayCodec)) {
    throw new InvalidArgumentError(`registerArrayCodec: a codec named '${codec.name}' is already registered`);
  }
  byName.set(codec.name, codec as unknown as ArrayCodec);
}

/** The codec that handles `value`, if any (the first registered that does). */
export function codecOf(value: object): ArrayCodec | undefined {
  for (const codec of byName.values()) if (codec.test(value)) return codec;
  return undefined;
}

export function codecNamed(name: string): ArrayCodec | undefined {
  return byName.get(name);
}
