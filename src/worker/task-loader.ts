// Finding the function a TaskRef names, inside a worker: function sources are
// compiled once per worker, modules imported once.

import { empty, from, inSharedMemory, release, shared, zeros } from '../arrays.js';
import { InvalidTaskError, ShmexError, TaskNotFoundError } from '../errors.js';
import type { TaskRef } from '../pool/protocol.js';
import { compileTaskSource, instantiateTaskSource, TASK_SCOPE } from '../task-source.js';
import { importFailure } from './import-failure.js';

export type TaskFunction = (...args: unknown[]) => unknown;

const helpers: Record<(typeof TASK_SCOPE)[number], unknown> = {
  empty,
  zeros,
  from,
  release,
  inSharedMemory,
  shared,
};
const scope = TASK_SCOPE.map((name) => helpers[name]);

export class TaskLoader {
  readonly #sources = new Map<number, TaskFunction>();
  readonly #modules = new Map<string, Promise<Record<string, unknown>>>();
  /** Modules imported already, by URL: their functions are found without waiting (see cached). */
  readonly #loaded = new Map<string, Record<string, unknown>>();

  /** The function `ref` names if it is compiled or imported already, found without a promise. */
  cached(ref: TaskRef): TaskFunction | undefined {
    if (ref.kind === 'source') return this.#sources.get(ref.id);
    const fn = this.#loaded.get(ref.url)?.[ref.name];
    return typeof fn === 'function' ? (fn as TaskFunction) : undefined;
  }

  async resolve(ref: TaskRef): Promise<TaskFunction> {
    if (ref.kind === 'source') {
      let fn = this.#sources.get(ref.id);
      if (fn === undefined) {
        if (ref.source === undefined) {
          throw new ShmexError(
            'ERR_SHMEX_PROTOCOL',
            `worker ${process.pid} was never sent the source of task ${ref.name}`,
          );
        }
        fn = instantiateTaskSource(compileTaskSource(ref.source, ref.name), scope, ref.name);
        this.#sources.set(ref.id, fn);
      }
      return fn;
    }
    let loading = this.#modules.get(ref.url);
    if (loading === undefined) {
      const url = ref.url;
      loading = import(url).catch(async (error: unknown) => {
        throw await importFailure(url, error);
      }) as Promise<Record<string, unknown>>;
      this.#modules.set(ref.url, loading);
      // A failed import is not cached: the next task gets the real error again.
      loading.catch(() => this.#modules.delete(ref.url));
    }
    const module = await loading;
    this.#loaded.set(ref.url, module);
    const fn = module[ref.name];
    if (fn === undefined) {
      const names = Object.keys(module).filter((key) => typeof module[key] === 'function');
      throw new TaskNotFoundError(
        `module ${ref.url} has no export named '${ref.name}'; its function exports are: ${names.join(', ') || '(none)'}`,
      );
    }
    if (typeof fn !== 'function') {
      throw new InvalidTaskError(
        `export '${ref.name}' of module ${ref.url} is a ${typeof fn}, not a function`,
      );
    }
    return fn as TaskFunction;
  }
}
