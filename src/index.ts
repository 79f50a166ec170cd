/// <reference types="node" preserve="true" />
// The reference above keeps Node's types (NodeJS.Signals, AsyncDisposable, Buffer) in the
// published declarations, so projects whose tsconfig lists no `types` still check them.
// The public API of shmex. Everything exported here is documented in docs/api.md (the main parts in README.md).
export {
  configureSharedMemory,
  empty,
  from,
  inSharedMemory,
  release,
  type SharedMemoryOptions,
  segmentPath,
  shared,
  trimSharedMemory,
  zeros,
} from './arrays.js';
export {
  AbortError,
  BrokenExecutorError,
  CancelledError,
  CodecError,
  InvalidArgumentError,
  InvalidTaskError,
  MalformedPayloadError,
  MissingPeerDependencyError,
  NotTransferableError,
  SharedMemoryError,
  ShmexError,
  ShutdownError,
  TaskClosureError,
  TaskNotFoundError,
  TaskTimeoutError,
  TimeoutError,
  WorkerCrashedError,
} from './errors.js';
export {
  type ModuleTasks,
  type PoolExecutor,
  ProcessPoolExecutor,
  type TaskRunner,
  ThreadPoolExecutor,
} from './executor.js';
export type { ExecutorOptions, ShutdownOptions, TaskOptions } from './executor-options.js';
export { type DoneCallback, Future } from './future.js';
export { type LoadNpyOptions, loadNpy, type NpyArray, type NpyMode } from './load.js';
export type { MapInputs, MapIterator, MapOptions } from './map.js';
export { listSegmentNames, type ShmClearOptions, shmClear } from './shm/sweep.js';
export type { ExecutorStats } from './stats.js';
export type { ModuleFunction } from './task-ref.js';
export type { TypedArray, TypedArrayConstructor } from './transfer/array-kinds.js';
export { type ArrayCodec, registerArrayCodec } from './transfer/codecs.js';
export { type ErrorClass, type ErrorClassOptions, registerErrorClass } from './transfer/error-classes.js';
export {
  type FieldValue,
  RecordArray,
  type RecordField,
  type RecordFieldList,
  RecordLayout,
  type RecordLayoutSpec,
} from './transfer/records.js';
export { RemoteStack } from './transfer/remote-error.js';
export { type ArrayWrapperOptions, registerArrayWrapper, type WrapperClass } from './transfer/wrappers.js';
export { DEFAULT_THRESHOLD } from './tuning.js';
export {
  ALL_COMPLETED,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  type ReturnWhen,
  type WaitOptions,
  type WaitResult,
  wait,
} from './waiting.js';
