// User classes that wrap an array. An instance travels as its class name and
// its own fields (the wrapped array through shared memory) and is rebuilt on
// the other side as an instance of the class registered under that name.
import { InvalidArgumentError } from '../errors.js';

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
