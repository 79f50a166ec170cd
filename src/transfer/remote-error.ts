// Errors cross the process boundary explicitly: name, message, stack, own
// fields and the names of the error's classes go over; the parent rebuilds an
// error of the same name (of a registered class when one of those names is
// registered there: see error-classes.ts) whose cause holds the worker's stack.

import { serialize } from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';
import * as errors from '../errors.js';
import { errorClassNames, registeredErrorClass } from './error-classes.js';

export interface SerializedError {
  /** false when a non-Error value was thrown: `value` is that value. */
  isError: boolean;
  /** Thrown by shmex itself (a ShmexError), so rebuilt as the shmex class of that name. */
  shmex?: boolean;
  name: string;
  /** The names of its classes, most derived first (see errorClassNames). */
  classes?: string[];
  message: string;
  stack: string | undefined;
  props: Record<string, unknown>;
  value?: unknown;
  pid: number;
  /** The worker thread it was thrown in (ThreadPoolExecutor), if not a process's main thread. */
  thread?: number;
  /** The error's own `cause`, and an AggregateError's `errors`, serialized the same way. */
  cause?: SerializedError;
  errors?: SerializedError[];
}

/** How deep causes and aggregated errors are followed (they may form cycles). */
const MAX_DEPTH = 4;

function travels(value: unknown): boolean {
  try {
    serialize(value);
    return true;
  } catch {
    return false;
  }
}

export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return {
      isError: false,
      name: 'Error',
      message: String(error),
      stack: undefined,
      props: {},
      value: travels(error) ? error : String(error),
      pid: process.pid,
      ...workerThread(),
    };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (key !== 'name' && key !== 'message' && key !== 'stack' && travels(value)) props[key] = value;
  }
  const serialized: SerializedError = {
    isError: true,
    shmex: error instanceof errors.ShmexError,
    name: error.name,
    classes: errorClassNames(error),
    message: error.message,
    stack: error.stack,
    props,
    pid: process.pid,
    ...workerThread(),
  };
  if (depth < MAX_DEPTH) {
    if ('cause' in error && error.cause !== undefined)
      serialized.cause = serializeError(error.cause, depth + 1);
    if (error instanceof AggregateError && Array.isArray(error.errors)) {
      serialized.errors = error.errors.map((e: unknown) => serializeError(e, depth + 1));
    }
  }
  return serialized;
}

type ErrorClass = new (message?: string) => Error;

const BUILTIN: Record<string, ErrorClass> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** In a worker thread, which one (errors name a thread, not a process). */
function workerThread(): { thread?: number } {
  return isMainThread ? {} : { thread: threadId };
}

/** The worker's stack, as the `cause` of a rebuilt error. */
export class RemoteStack extends Error {
  constructor(stack: string, pid: number, thread?: number) {
    const where = thread === undefined ? `worker process ${pid}` : `worker thread ${thread}`;
    super(`stack of the error in ${where}`);
    this.name = 'RemoteStack';
    this.stack = `RemoteStack (${where}):\n${stack}`;
  }
}

export function rebuildError(s: SerializedError): unknown {
  if (!s.isError) return s.value;
  let error: Error;
  const userClass = s.shmex === true ? undefined : registeredErrorClass(s.classes);
  const shmexClass = (errors as unknown as Record<string, unknown>)[s.name];
  if (
    s.shmex === true &&
    typeof shmexClass === 'function' &&
    (shmexClass === errors.ShmexError ||
      (shmexClass as { prototype: unknown }).prototype instanceof errors.ShmexError)
  ) {
    error = Object.create((shmexClass as ErrorClass).prototype) as Error;
    Object.defineProperty(error, 'message', { value: s.message, writable: true, configurable: true });
  } else if (userClass !== undefined) {
    // Its constructor is not called: it may want arguments we do not have.
    error = Object.create(userClass.prototype) as Error;
    Object.defineProperty(error, 'message', { value: s.message, writable: true, configurable: true });
    if (s.errors !== undefined) {
      Object.defineProperty(error, 'errors', {
        value: s.errors.map(rebuildError),
        writable: true,
        configurable: true,
      });
    }
  } else if (s.errors !== undefined) {
    error = new AggregateError(s.errors.map(rebuildError), s.message);
  } else {
    const Ctor = BUILTIN[s.name] ?? Error;
    error = new Ctor(s.message);
  }
  if (error.name !== s.name)
    Object.defineProperty(error, 'name', { value: s.name, writable: true, configurable: true });
  Object.assign(error, s.props);
  if (s.stack !== undefined) {
    // The worker's stack is the cause; the error's own cause, if any, is the cause of that.
    const remote = new RemoteStack(s.stack, s.pid, s.thread);
    if (s.cause !== undefined) remote.cause = rebuildError(s.cause);
    Object.defineProperty(error, 'cause', { value: remote, writable: true, configurable: true });
    // The parent's own stack says where the result arrived, which helps nobody: show the worker's.
    Object.defineProperty(error, 'stack', {
      value: `${s.stack}\n    at <${s.thread === undefined ? `worker process ${s.pid}` : `worker thread ${s.thread}`}>`,
      writable: true,
      configurable: true,
    });
  }
  return error;
}
