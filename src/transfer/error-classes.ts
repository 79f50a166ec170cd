// User error classes that keep their class across the process boundary. A
// thrown error travels with the names of its classes (its own, then each base
// class up to Error: registered names where the sender knows them, else the
// constructors' names), and the receiver rebuilds it as an instance of the
// first of them registered there. The constructor is not called: it may want
// arguments the receiver does not have.
import { InvalidArgumentError } from '../errors.js';
import { describeValue } from '../options.js';

export type ErrorClass = abstract new (...args: any[]) => Error;

export interface ErrorClassOptions {
  /** The name the class is known by in every process. @default Class.name */
  name?: string;
}

const byName = new Map<string, ErrorClass>();
const byClass = new Map<ErrorClass, string>();

/**
 * Makes errors of `cls` (and of its unregistered subclasses) thrown by a task
 * arrive as instances of `cls`. Register it in the process that receives the
 * error; register it in the task's process too when `options.name` is given.
 */
export function registerErrorClass(cls: ErrorClass, options: ErrorClassOptions = {}): void {
  if (typeof cls !== 'function' || !(cls.prototype instanceof Error)) {
    throw new InvalidArgumentError(
      `registerErrorClass(cls): cls must be a class that extends Error, got ${describeValue(cls)}`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `registerErrorClass(cls, options): options must be an object such as { name }, got ${describeValue(options)}`,
    );
  }
  const name = options.name ?? cls.name;
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(
      'registerErrorClass: an anonymous class needs options.name, the name it is known by in every process',
    );
  }
  const existing = byName.get(name);
  if (existing === cls) return;
  if (existing !== undefined) {
    throw new InvalidArgumentError(
      `registerErrorClass: another class is already registered as '${name}' in this process; ` +
        'pass a distinct options.name (in the task process too)',
    );
  }
  const known = byClass.get(cls);
  if (known !== undefined) {
    throw new InvalidArgumentError(
      `registerErrorClass: class ${cls.name || '(anonymous)'} is already registered as '${known}', not '${name}'`,
    );
  }
  byName.set(name, cls);
  byClass.set(cls, name);
}

/** How deep the class chain is followed (a prototype chain may be long, never cyclic). */
const MAX_CHAIN = 16;

/** The names of an error's classes, most derived first, down to (not including) Error. */
export function errorClassNames(error: Error): string[] {
  const names: string[] = [];
  let proto = Object.getPrototypeOf(error) as object | null;
  while (proto !== null && proto !== Error.prototype && names.length < MAX_CHAIN) {
    const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
    if (typeof ctor === 'function') {
      const name = byClass.get(ctor as ErrorClass) ?? (ctor as { name?: unknown }).name;
      if (typeof name === 'string' && name !== '') names.push(name);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return names;
}

/** The first class registered under one of `names`. */
export function registeredErrorClass(names: readonly unknown[] | undefined): ErrorClass | undefined {
  if (!Array.isArray(names)) return undefined;
  for (const name of names) {
    const cls = typeof name === 'string' ? byName.get(name) : undefined;
    if (cls !== undefined) return cls;
  }
  return undefined;
}
