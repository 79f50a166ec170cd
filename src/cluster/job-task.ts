// Which function a job runs on a machine: a function sent as source (rebuilt
// here once per source, only to hand it to the local pool, which sends the
// source on to its processes), or a module's export, whose file must be the
// one the submitter has (checked by digest for every job).
import type { ModuleFunction } from '../task-ref.js';
import { ModuleMismatchError } from './errors.js';
import { moduleDigest, type TaskSpec } from './job-codec.js';

export type AnyFunction = (...args: unknown[]) => unknown;

export class JobTasks {
  readonly #machine: string;
  readonly #functions = new Map<string, AnyFunction>();

  /** `machine`: this machine's name, for errors. */
  constructor(machine: string) {
    this.#machine = machine;
  }

  /** The function of a job's task; throws ModuleMismatchError if the module's file here is not the submitter's. */
  resolve(task: TaskSpec): AnyFunction | ModuleFunction {
    if (task.kind !== 'module') return this.#functionOf(task.source);
    if (task.digest !== undefined) {
      let local: string | undefined;
      try {
        // Looked at for every job (a stat; hashed again only if it changed): a file replaced
        // a moment ago must not pass for the old one, nor the old one for the new.
        local = moduleDigest(task.url, 0);
      } catch (error) {
        throw new ModuleMismatchError(
          this.#machine,
          task.url,
          `the file is missing here (${(error as Error).message})`,
        );
      }
      if (local !== task.digest) {
        throw new ModuleMismatchError(
          this.#machine,
          task.url,
          "its file here differs from the submitter's (sha256)",
        );
      }
    }
    return { module: task.url, name: task.name };
  }

  #functionOf(source: string): AnyFunction {
    let fn = this.#functions.get(source);
    if (fn === undefined) {
      // The local pool sends the source on to its workers; this only rebuilds a function to hand it.
      fn = new Function(`return (${source});`)() as AnyFunction;
      this.#functions.set(source, fn);
    }
    return fn;
  }
}
