// User classes that wrap an array. An instance travels as its class name and
// its own fields (the wrapped array through shared memory) and is rebuilt on
// the other side as an instance of the class registered under that name.
import { InvalidArgumentError, NotTransferableError, ShmexError } from '../errors.js';
import { registerBuiltinCodec } from './codecs.js';
import { renderPath, step } from './path.js';

// Any class, whatever its constructor takes.
export type WrapperClass = abstract new (...args: any[]) => object;

export interface ArrayWrapperOptions {
  /** The name the class is known by in every process. @default Class.name */
  name?: string;
}

export interface WrapperEntry {
  name: string;
  cls: WrapperClass;
  field: string;
}

const byClass = new Map<WrapperClass, WrapperEntry>();
const byName = new Map<string, WrapperEntry>();

/**
 * Lets instances of `cls`, which hold an array in `field`, travel to and from
 * tasks. Register the class in the worker too (in the task module, or in the
 * executor's initializer) so results and arguments can be rebuilt there.
 */
export function registerArrayWrapper(
  cls: WrapperClass,
  field: string,
  options: ArrayWrapperOptions = {},
): void {
  if (typeof cls !== 'function' || cls.prototype === undefined) {
    throw new InvalidArgumentError('registerArrayWrapper(cls, field): cls must be a class');
  }
  if (typeof field !== 'string' || field === '') {
    throw new InvalidArgumentError(
      'registerArrayWrapper(cls, field): field must name the property that holds the array',
    );
  }
  const name = options.name ?? cls.name;
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError('registerArrayWrapper: an anonymous class needs options.name');
  }
  const existing = byName.get(name);
  if (existing !== undefined && existing.cls !== cls) {
    throw new InvalidArgumentError(
      `registerArrayWrapper: another class is already registered as '${name}'; pass a distinct options.name`,
    );
  }
  const entry = { name, cls, field };
  byClass.set(cls, entry);
  byName.set(name, entry);
}

/** The registration of the object's own class (not of a base class: a subclass needs its own). */
export function wrapperOf(value: object): WrapperEntry | undefined {
  const proto = Object.getPrototypeOf(value) as { constructor?: unknown } | null;
  if (proto === null || typeof proto.constructor !== 'function') return undefined;
  return byClass.get(proto.constructor as WrapperClass);
}

export function wrapperNamed(name: string): WrapperEntry | undefined {
  return byName.get(name);
}

/**
 * Wrapper instances travel through a built-in codec, tried after the user's:
 * the class name as parts, the own fields late (see BuiltinCodec), so
 * wrappers may refer to each other. The instance is made without calling its
 * constructor, which may want arguments we do not have.
 */
registerBuiltinCodec<object, { name: string }>(
  {
    name: 'shmex.wrapper',
    test: (value): value is object => wrapperOf(value) !== undefined,
    encode: (value) => ({ name: wrapperOf(value)!.name }),
    decode({ name }) {
      const entry = wrapperNamed(name);
      if (entry === undefined) {
        throw new ShmexError(
          'ERR_SHMEX_UNKNOWN_WRAPPER',
          `received an instance of array wrapper '${name}', which is not registered in this process (pid ${process.pid}); ` +
            `call registerArrayWrapper(${name}, field) here too, for example in the task module or the executor's initializer`,
        );
      }
      return Object.create(entry.cls.prototype) as object;
    },
    scan(value, path, s) {
      const wrapper = wrapperOf(value)!;
      if (!Object.hasOwn(value, wrapper.field)) {
        throw new NotTransferableError(
          renderPath(path),
          `this ${wrapper.name} has no own property '${wrapper.field}', the field it was registered with`,
          'Register the class with the name of the own property that holds the array.',
        );
      }
      for (const key of Object.keys(value)) s.visit((value as Record<string, unknown>)[key], step(path, key));
      return { name: wrapper.name };
    },
    late: { of: (value) => value, fill: defineProps },
  },
  'last',
);

/**
 * Gives a rebuilt wrapper instance its own fields. Defined, as class fields
 * are, not assigned: assignment would run the class's setters (or throw on
 * a getter-only accessor) and would turn an own '__proto__' into the prototype.
 */
function defineProps(target: object, props: Record<string, unknown>): void {
  for (const key of Object.keys(props)) {
    Object.defineProperty(target, key, {
      value: props[key],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
}
