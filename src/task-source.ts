// Function tasks travel as source text. Both sides need to turn that text
// back into a function: the parent only compiles it (to fail fast at submit),
// the worker compiles and evaluates it once and caches the result.
import { Script } from 'node:vm';
import { InvalidTaskError, TaskClosureError } from './errors.js';

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;

/**
 * Names a function task may use without defining them: shmex's array helpers,
 * as the parent imports them. The worker passes their implementations in.
 */
export const TASK_SCOPE = ['empty', 'zeros', 'from', 'release', 'inSharedMemory', 'shared'] as const;

/** Source forms tried in order: expressions (arrow, function), then a method inside an object literal. */
function candidates(source: string): Array<{ code: string; method: boolean }> {
  const scoped = (expression: string) => `(function (${TASK_SCOPE.join(', ')}) {\nreturn ${expression};\n})`;
  return [
    { code: scoped(`(${source}\n)`), method: false },
    { code: scoped(`({${source}\n})`), method: true },
  ];
}

export interface CompiledSource {
  /** The source wrapped as an expression that compiles (checked with vm.Script, never run). */
  code: string;
  method: boolean;
  filename: string;
}

/** Compiles a function's source, or throws InvalidTaskError saying why it cannot be a task. */
export function compileTaskSource(source: string, name: string): CompiledSource {
  if (NATIVE.test(source)) {
    throw new InvalidTaskError(
      `function ${name || '<anonymous>'} is native or bound, so its source cannot be sent to a worker; ` +
        'wrap the call in a self-contained function, or export a function from a module and use executor.module(url)',
    );
  }
  if (/^class\b/.test(source)) {
    throw new InvalidTaskError(
      `${name || 'this class'} is a class, not a function: a task must be a function`,
    );
  }
  let firstError: unknown;
  const filename = `shmex-task:${name || 'anonymous'}`;
  for (const { code, method } of candidates(source)) {
    try {
      new Script(code, { filename });
      return { code, method, filename };
    } catch (error) {
      firstError ??= error;
    }
  }
  throw new InvalidTaskError(`the source of function ${name || '<anonymous>'} does not compile on its own`, {
    cause: firstError,
  });
}

/**
 * The `this` a function task runs with. A method passed as a task
 * (`ex.submit(p.norm, 3)`) travels as its source alone, without its object;
 * called as a plain sloppy-mode function its `this` would be globalThis, and
 * `this.k * x` would quietly give NaN. Any use of this object throws instead.
 * A task's own `this` is this object (an arrow function's too, through the
 * wrapper it is compiled in); a regular function declared inside the task has
 * its own `this` and never sees it.
 */
function detachedThis(name: string): object {
  const refuse = (use: string): never => {
    throw new TaskClosureError(
      `task ${name || '<anonymous>'} uses 'this' (${use}), but a function task runs without its object: it is sent ` +
        "as its source text and called as a plain function, so 'this' is not the object it was a method of. " +
        'Pass the values it needs as arguments, or export the function from a module and run it with executor.module(url).',
    );
  };
  const key = (property: string | symbol) =>
    typeof property === 'symbol' ? `[${property.description ?? 'symbol'}]` : `.${property}`;
  return new Proxy(Object.create(null) as object, {
    get: (_target, property) =>
      refuse(property === 'then' ? "it returns or awaits 'this'" : `it reads this${key(property)}`),
    set: (_target, property) => refuse(`it sets this${key(property)}`),
    has: (_target, property) => refuse(`it tests ${String(property)} in this`),
    deleteProperty: (_target, property) => refuse(`it deletes this${key(property)}`),
    defineProperty: (_target, property) => refuse(`it defines this${key(property)}`),
    ownKeys: () => refuse("it lists this's keys"),
    getOwnPropertyDescriptor: (_target, property) => refuse(`it inspects this${key(property)}`),
    getPrototypeOf: () => refuse("it reads this's prototype"),
    setPrototypeOf: () => refuse("it sets this's prototype"),
  });
}

/**
 * Evaluates compiled task source in this process's global scope and returns the function.
 * An indirect eval, not vm.Script: `await import(...)` in a task then works as in any code
 * (bare specifiers resolve from shmex's location), where a Script needs
 * importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER, which prints an
 * ExperimentalWarning on the user's stderr (Node 20) and resolves bare specifiers against
 * the script's filename, which is not a URL.
 */
export function instantiateTaskSource(
  compiled: CompiledSource,
  scope: readonly unknown[],
  name = '',
): (...args: unknown[]) => unknown {
  // Functions compiled by esbuild with keepNames (tsx does this) call a module-level __name helper.
  if (!('__name' in globalThis)) {
    Object.defineProperty(globalThis, '__name', {
      value: (target: object, value: string) =>
        Object.defineProperty(target, 'name', { value, configurable: true }),
      configurable: true,
      writable: true,
    });
  }
  // Only for a source that mentions `this` (in code, a string or a comment alike): V8 names a
  // stack frame after its receiver ("at Proxy.check"), and other tasks keep "at check".
  const self = /\bthis\b/.test(compiled.code) ? detachedThis(name) : undefined;
  // biome-ignore lint/security/noGlobalEval: the code is the user's own function, run as vm.Script ran it before
  const evaluate = eval;
  const wrapper = evaluate(`${compiled.code}\n//# sourceURL=${compiled.filename}`) as (
    ...scope: unknown[]
  ) => unknown;
  const value = wrapper.apply(self, [...scope]);
  const fn = compiled.method ? Object.values(value as object)[0] : value;
  if (typeof fn !== 'function') throw new InvalidTaskError('the task source did not evaluate to a function');
  return (...args: unknown[]) => (fn as (...args: unknown[]) => unknown).apply(self, args);
}
