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
  DEFAULT_THRESHOLD,
  type ExecutorOptions,
  type ModuleTasks,
  type PoolExecutor,
  ProcessPoolExecutor,
  type ShutdownOptions,
  type TaskOptions,
  type TaskRunner,
  ThreadPoolExecutor,
} from './executor.js';
export { type DoneCallback, Future } from './future.js';
export type { MapInputs, MapOptions } from './map.js';
export { listSegmentNames, type ShmClearOptions, shmClear } from './shm/sweep.js';
export type { ModuleFunction } from './task-ref.js';
export type { TypedArray, TypedArrayConstructor } from './transfer/array-kinds.js';
export { type ArrayCodec, registerArrayCodec } from './transfer/codecs.js';
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
