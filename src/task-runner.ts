// What submits tasks, shared by every executor (local pools and the cluster):
// the public overloads of submit, module and map, and the `withOptions` view
// that binds checked per-task options to an executor's own methods.
import { checkTaskOptions, type TaskOptions } from './executor-options.js';
import type { Future } from './future.js';
import type { MapInputs, MapIterator, MapOptions } from './map.js';
import type { TaskLimits } from './pool/task-limits.js';
import type { ModuleFunction } from './task-ref.js';

type AnyFunction = (...args: any[]) => any;

/** What submits tasks: an executor, or an executor's `withOptions(...)` view. */
export interface TaskRunner {
  submit<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Future<Awaited<R>>;
  submit(fn: ModuleFunction, ...args: unknown[]): Future<unknown>;
  module<M>(url: string | URL): ModuleTasks<M>;
  map<A extends unknown[], R>(fn: (...args: A) => R, ...iterables: MapInputs<A>): MapIterator<Awaited<R>>;
  map<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...iterablesThenOptions: [...MapInputs<A>, MapOptions]
  ): MapIterator<Awaited<R>>;
  /** The same runner, with these options over its own. */
  withOptions(options: TaskOptions): TaskRunner;
}

/** The typed proxy of a task module: each exported function submits a task and returns its Future. */
export type ModuleTasks<M> = {
  readonly [K in keyof M as M[K] extends AnyFunction ? K : never]: M[K] extends (...args: infer A) => infer R
    ? (...args: A) => Future<Awaited<R>>
    : never;
};

/** An executor's submit, module and map, untyped, each running its tasks under `limits`. */
export interface LimitedTasks {
  submit(fn: AnyFunction | ModuleFunction, ...args: unknown[]): Future<unknown>;
  module<M>(url: string | URL): ModuleTasks<M>;
  map(fn: AnyFunction | ModuleFunction, ...rest: unknown[]): MapIterator<unknown>;
}

/**
 * The runner `withOptions(options)` returns: `bind`'s methods under the
 * checked options; its own withOptions puts more options over these (either
 * signal aborts).
 */
export function limitedRunner(options: TaskOptions, bind: (limits: TaskLimits) => LimitedTasks): TaskRunner {
  const limits = checkTaskOptions(options);
  const runner = {
    ...bind(limits),
    withOptions: (more: TaskOptions) => {
      const added = checkTaskOptions(more);
      const signals = [limits.signal, added.signal].filter((s) => s !== undefined);
      const merged: TaskOptions = { ...limits, ...added };
      if (signals.length > 1) merged.signal = AbortSignal.any(signals);
      return limitedRunner(merged, bind);
    },
  };
  return runner as TaskRunner;
}
