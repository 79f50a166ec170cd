// Failures nobody observed, reported as asyncio reports "Task exception was
// never retrieved": not when the task fails (the user may still await it, after
// another one), but once its Future can no longer be observed: when it is
// garbage-collected, or when the process exits with it still unobserved.
//
// Only failed Futures are tracked: the success path costs a flag. An entry
// leaves when its Future is observed (untrack), when the registry reports it
// after a collection, or at exit, where whatever is left is written out.
import type { TaskRef } from './pool/protocol.js';

export const UNOBSERVED_CODE = 'SHMEX_UNOBSERVED_FAILURE';
const TYPE = 'ShmexWarning';

/** One failed Future not observed yet. It holds no reference to the Future, which stays collectable. */
export interface Unobserved {
  readonly message: string;
}

const pending = new Set<Unobserved>();

// The held value is the entry (it holds the report text): a Future collected
// whose callback has not run yet by 'exit' is still in `pending` and is
// reported there, once; the set needs no WeakRef to the Futures.
const registry = new FinalizationRegistry<Unobserved>((entry) => {
  if (!pending.delete(entry)) return;
  process.emitWarning(entry.message, { type: TYPE, code: UNOBSERVED_CODE });
});

let exitHooked = false;

/** Warnings turned off for the whole process, as Node itself would honour them. */
function silenced(): boolean {
  if (process.env.NODE_NO_WARNINGS === '1') return true;
  const options = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return options.some(
    (o) =>
      o === '--no-warnings' ||
      o === `--disable-warning=${UNOBSERVED_CODE}` ||
      o === `--disable-warning=${TYPE}`,
  );
}

// 'warning' events are emitted on a later tick, which never comes at exit: write synchronously.
function reportAtExit(): void {
  if (pending.size === 0 || silenced()) return;
  let text = '';
  for (const entry of pending)
    text += `(node:${process.pid}) [${UNOBSERVED_CODE}] ${TYPE}: ${entry.message}\n`;
  pending.clear();
  try {
    process.stderr.write(text);
  } catch {
    // stderr closed: nothing more to do at exit
  }
}

/** How reports name a task. */
export function describeTask(task: TaskRef): string {
  if (task.kind === 'module') return `'${task.name}' of module ${task.url}`;
  return task.name === '' ? 'an anonymous function' : `function '${task.name}'`;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  try {
    return `a thrown ${typeof error} ${String(error)}`;
  } catch {
    return `a thrown ${typeof error}`;
  }
}

/** Tracks a failed Future until it is observed. */
export function track(future: object, task: TaskRef, error: unknown): Unobserved {
  const message =
    `a task (${describeTask(task)}) failed with ${describeError(error)}, and nobody observed its Future. ` +
    "Await it (or call result(), exception() or addDoneCallback()) to handle the error, or create the executor with { unobservedFailures: 'ignore' }.";
  const entry: Unobserved = { message };
  pending.add(entry);
  registry.register(future, entry, entry);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', reportAtExit);
  }
  return entry;
}

/** The Future was observed: its failure is the observer's now. */
export function untrack(entry: Unobserved): void {
  pending.delete(entry);
  registry.unregister(entry);
}
