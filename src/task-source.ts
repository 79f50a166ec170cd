// Function tasks travel as source text. Both sides need to turn that text
// back into a function: the parent only compiles it (to fail fast at submit),
// the worker compiles and evaluates it once and caches the result.
import { Script, type ScriptOptions, constants as vmConstants } from 'node:vm';
import { InvalidTaskError } from './errors.js';

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
  script: Script;
  method: boolean;
}

/** Lets `await import(...)` work inside a function task, where this Node.js version allows it. */
function scriptOptions(name: string): ScriptOptions {
  const loader = (vmConstants as unknown as { USE_MAIN_CONTEXT_DEFAULT_LOADER?: unknown } | undefined)
    ?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  const filename = `shmex-task:${name || 'anonymous'}`;
  return loader === undefined
    ? { filename }
    : ({ filename, importModuleDynamically: loader } as unknown as ScriptOptions);
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
  for (const { code, method } of candidates(source)) {
    try {
      return { script: new Script(code, scriptOptions(name)), method };
    } catch (error) {
      firstError ??= error;
    }
  }
  throw new InvalidTaskError(`the source of function ${name || '<anonymous>'} does not compile on its own`, {
    cause: firstError,
  });
}

/** Evaluates compiled task source in this process's global scope and returns the function. */
export function instantiateTaskSource(
  compiled: CompiledSource,
  scope: readonly unknown[],
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
  const value = (compiled.script.runInThisContext() as (...scope: unknown[]) => unknown)(...scope);
  const fn = compiled.method ? Object.values(value as object)[0] : value;
  if (typeof fn !== 'function') throw new InvalidTaskError('the task source did not evaluate to a function');
  return fn as (...args: unknown[]) => unknown;
}
