// Turning what the user passes as a task (a function, or a module URL and an
// export name) into the TaskRef sent to workers, with errors at submit time.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, InvalidTaskError } from './errors.js';
import type { TaskRef } from './pool/protocol.js';
import { compileTaskSource } from './task-source.js';

type AnyFunction = (...args: never[]) => unknown;

/** A function exported by a module, named for workers to import: see `executor.module()`. */
export interface ModuleFunction {
  module: string | URL;
  name: string;
}

/** Gives each distinct function source one id per executor, so workers compile it once. */
export class FunctionTasks {
  readonly #byFunction = new WeakMap<AnyFunction, TaskRef & { kind: 'source' }>();
  readonly #bySource = new Map<string, TaskRef & { kind: 'source' }>();

  refFor(fn: AnyFunction): TaskRef & { kind: 'source' } {
    const known = this.#byFunction.get(fn);
    if (known !== undefined) return known;
    const source = Function.prototype.toString.call(fn);
    let ref = this.#bySource.get(source);
    if (ref === undefined) {
      compileTaskSource(source, fn.name);
      ref = { kind: 'source', id: this.#bySource.size + 1, name: fn.name, source };
      this.#bySource.set(source, ref);
    }
    this.#byFunction.set(fn, ref);
    return ref;
  }
}

/** A module specifier workers can import: a URL, an absolute path, or a package name. */
export function moduleSpecifier(module: unknown, where: string): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') {
    throw new InvalidArgumentError(`${where}: the module must be a URL, an absolute path or a package name`);
  }
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (module.startsWith('.')) {
    throw new InvalidArgumentError(
      `${where}: a relative path such as '${module}' is ambiguous in a worker; pass new URL('${module}', import.meta.url)`,
    );
  }
  return module;
}

export function moduleTaskRef(module: unknown, name: unknown, where: string): TaskRef {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidTaskError(`${where}: the export name must be a non-empty string`);
  }
  return { kind: 'module', url: moduleSpecifier(module, where), name };
}

/** A task given as a function or as { module, name }. */
export function taskRefOf(task: unknown, functions: FunctionTasks, where: string): TaskRef {
  if (typeof task === 'function') return functions.refFor(task as AnyFunction);
  if (typeof task === 'object' && task !== null && 'module' in task && 'name' in task) {
    return moduleTaskRef((task as ModuleFunction).module, (task as ModuleFunction).name, where);
  }
  throw new InvalidTaskError(
    `${where}: expected a function or { module, name }, got ${task === null ? 'null' : typeof task}`,
  );
}

/**
 * The tasks an executor was given: one id per function source, and the
 * functions of its module proxies (so that `submit(tasks.addOne, x)` and
 * `map(tasks.addOne, xs)` name the export, not the proxy's own source).
 */
export class TaskRefs {
  readonly functions = new FunctionTasks();
  readonly #moduleFunctions = new WeakMap<AnyFunction, TaskRef>();
  /** One TaskRef per module and export, each with its id (see TaskRef). */
  readonly #modules = new Map<string, TaskRef & { kind: 'module' }>();

  /** The TaskRef of a function, a module proxy's function, or { module, name }. */
  refOf(task: unknown, where: string): TaskRef {
    if (typeof task === 'function')
      return this.#moduleFunctions.get(task as AnyFunction) ?? this.functions.refFor(task as AnyFunction);
    return this.#numbered(taskRefOf(task, this.functions, where));
  }

  /** The executor's one TaskRef for this module and export, numbered. */
  #numbered(ref: TaskRef): TaskRef {
    if (ref.kind !== 'module') return ref;
    const key = `${ref.name}\n${ref.url}`;
    let known = this.#modules.get(key);
    if (known === undefined) {
      known = { kind: 'module', url: ref.url, name: ref.name, id: this.#modules.size + 1 };
      this.#modules.set(key, known);
    }
    return known;
  }

  /** A proxy whose property `name` is a function that submits the export `name` of `url`. */
  moduleProxy<T extends object>(url: string | URL, submit: (ref: TaskRef, args: unknown[]) => unknown): T {
    const cache = new Map<string, AnyFunction>();
    moduleTaskRef(url, 'check', 'module');
    return new Proxy(Object.create(null) as T, {
      get: (_target, name) => {
        // Not a thenable, not inspectable as one: awaiting the proxy must not call a task named 'then'.
        if (typeof name !== 'string' || name === 'then') return undefined;
        let fn = cache.get(name);
        if (fn === undefined) {
          const ref = this.#numbered(moduleTaskRef(url, name, 'module'));
          fn = (...args: unknown[]) => submit(ref, args);
          Object.defineProperty(fn, 'name', { value: name });
          this.#moduleFunctions.set(fn, ref);
          cache.set(name, fn);
        }
        return fn;
      },
    });
  }
}
