// Array codecs: how values that V8 cannot carry as they are travel. A codec
// turns such a value into parts (plain objects, arrays, typed arrays: the
// arrays go through shared memory) and rebuilds it from them on the other
// side. Records and wrapper instances travel through built-in codecs
// (records.ts, wrappers.ts); the adapters (src/adapters/) register theirs
// when imported; user code may register its own. All go the same way: the
// value kind 'codec value' (kinds/coded.ts).
import { InvalidArgumentError } from '../errors.js';
import type { ScanContext } from './kinds/types.js';
import type { PathNode } from './path.js';

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

/** What a built-in codec may do beyond ArrayCodec. Its errors go on as they are (they carry their own codes). */
export interface BuiltinCodec<T extends object = object, P = unknown> extends ArrayCodec<T, P> {
  /**
   * Scans the value itself and returns its parts, instead of encoding it and
   * scanning the parts under `<name>`. The parts are written as they are, so
   * they may hold only plain data and views of buffers it listed.
   */
  scan?(value: T, path: PathNode, s: ScanContext): P;
  /**
   * Fields written after every special's header and given to the decoded
   * value once every special is made, so such values may refer to each
   * other in cycles: `of` says which object's own fields, `fill` gives them.
   */
  late?: { of(value: T): object; fill(target: T, fields: Record<string, unknown>): void };
}

const byName = new Map<string, ArrayCodec>();
/** In the order their tests are tried: built-ins first, the user's, built-ins last. */
const first: ArrayCodec[] = [];
const user: ArrayCodec[] = [];
const last: ArrayCodec[] = [];
const builtins = new WeakSet<ArrayCodec>();

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
  add(codec as unknown as ArrayCodec, user);
}

/** Registers a codec of shmex itself, tried before (records) or after (wrappers) the user's. */
export function registerBuiltinCodec<T extends object, P>(
  codec: BuiltinCodec<T, P>,
  at: 'first' | 'last',
): void {
  builtins.add(codec as unknown as ArrayCodec);
  add(codec as unknown as ArrayCodec, at === 'first' ? first : last);
}

export function isBuiltinCodec(codec: ArrayCodec): codec is BuiltinCodec {
  return builtins.has(codec);
}

function add(codec: ArrayCodec, list: ArrayCodec[]): void {
  const existing = byName.get(codec.name);
  if (existing !== undefined && existing !== codec) {
    throw new InvalidArgumentError(`registerArrayCodec: a codec named '${codec.name}' is already registered`);
  }
  if (existing === undefined) list.push(codec);
  byName.set(codec.name, codec);
}

/** A codec's `test` threw: the scan that asked says where the value sits (scan.ts). */
export class CodecTestFailure extends Error {
  constructor(
    readonly codec: string,
    readonly thrown: unknown,
  ) {
    super(`codec '${codec}' threw in its test: ${(thrown as Error)?.message ?? String(thrown)}`);
  }
}

function handles(codec: ArrayCodec, value: object): boolean {
  try {
    return codec.test(value);
  } catch (error) {
    throw new CodecTestFailure(codec.name, error);
  }
}

/** The codec that handles `value`, if any (the first that does). */
export function codecOf(value: object): ArrayCodec | undefined {
  for (const codec of first) if (handles(codec, value)) return codec;
  for (const codec of user) if (handles(codec, value)) return codec;
  for (const codec of last) if (handles(codec, value)) return codec;
  return undefined;
}

export function codecNamed(name: string): ArrayCodec | undefined {
  return byName.get(name);
}
