// The one table that turns an errno from the file system (native/shm.c, or
// node:fs on the same files) into a SharedMemoryError whose message says what
// went wrong and what to do about it. A code means different things to the
// two operations on segments: ENOENT is a missing directory when creating,
// a segment whose owner removed it when mapping; so a hint is looked up by
// code and operation.
import { statfsSync } from 'node:fs';
import { SharedMemoryError } from '../errors.js';

/** What was being done when the error came. */
export type SegmentOperation =
  | { op: 'create'; dir: string; name: string; capacity: number }
  | { op: 'map'; dir: string; name: string };

interface NativeError {
  code?: string;
  syscall?: string;
  message?: string;
}

type Hint<T> = (at: T) => string;
type CreateHint = Hint<Extract<SegmentOperation, { op: 'create' }>>;
type MapHint = Hint<Extract<SegmentOperation, { op: 'map' }>>;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Free and total bytes of the file system holding `dir`, as a phrase, or '' if it cannot be read. */
function spaceOf(dir: string): string {
  try {
    const fs = statfsSync(dir);
    return ` (${mib(fs.bavail * fs.bsize)} free of ${mib(fs.blocks * fs.bsize)})`;
  } catch {
    return '';
  }
}

// Creating a segment fails for reasons of the directory (missing, not
// writable, full) or of the process (address space, file descriptors), never
// of the segment itself: each hint says which.
const full: CreateHint = ({ dir }) =>
  `The shared-memory directory ${dir} is full${spaceOf(dir)}: release() arrays you no longer need, ` +
  'remove segments of dead processes with shmClear(), pass smaller arrays, or give the executor a ' +
  'larger directory (shmDir, or a bigger tmpfs).';
const tooLarge: CreateHint = ({ capacity }) =>
  `${capacity} bytes is more than this process may write to one file (ulimit -f): pass smaller arrays.`;
const noDirectory: CreateHint = ({ dir }) =>
  `The shared-memory directory ${dir} does not exist or is not a directory: create it, or pass an existing directory as shmDir.`;
const notWritable: CreateHint = ({ dir }) =>
  `This process (uid ${process.geteuid?.() ?? '?'}) may not create files in the shared-memory directory ${dir}: ` +
  'make it writable (a tmpfs such as /dev/shm), or pass another directory as shmDir.';
const nameTaken: CreateHint = ({ name }) =>
  `A file named ${name} is already there. Segment names are random, so another program made it: ` +
  'shmex never opens or reuses a file it did not create itself.';
const noAddressSpace: CreateHint = ({ capacity }) =>
  `This process cannot map ${capacity} more bytes: its address space limit (ulimit -v) or its number of ` +
  'mappings (vm.max_map_count) is reached. release() arrays you no longer need, or pass smaller ones.';
const noDescriptor: CreateHint = () =>
  'No file descriptor is left (ulimit -n): a segment needs one only while it is being created, ' +
  'so something else in this process holds them.';

const fullWhileMapping: MapHint = ({ dir }) =>
  `The shared-memory directory ${dir} is full: free space there (shmClear() removes segments of dead processes) or pass smaller arrays.`;
const outOfMappings: MapHint = () =>
  'The process ran out of file descriptors or mappings: release arrays you no longer need.';
const gone: MapHint = () => 'The segment is gone: its owner removed it or died.';

const HINTS: Record<string, { create?: CreateHint; map?: MapHint }> = {
  ENOSPC: { create: full, map: fullWhileMapping },
  EDQUOT: { create: full },
  EFBIG: { create: tooLarge, map: fullWhileMapping },
  ENOENT: { create: noDirectory, map: gone },
  ENOTDIR: { create: noDirectory },
  EACCES: { create: notWritable },
  EPERM: { create: notWritable },
  EROFS: { create: notWritable },
  EEXIST: { create: nameTaken },
  ENOMEM: { create: noAddressSpace, map: outOfMappings },
  EMFILE: { create: noDescriptor, map: outOfMappings },
  ENFILE: { create: noDescriptor, map: outOfMappings },
};

function hintFor(code: string, at: SegmentOperation): string | undefined {
  const hints = HINTS[code];
  if (hints === undefined) return undefined;
  return at.op === 'create' ? hints.create?.(at) : hints.map?.(at);
}

/** `error` (with its errno `code` and `syscall`) as a SharedMemoryError that says what to do. */
export function explainNativeError(error: unknown, at: SegmentOperation): SharedMemoryError {
  const e = error as NativeError;
  const code = e.code ?? 'EUNKNOWN';
  const action =
    at.op === 'create'
      ? `create a shared-memory segment of ${at.capacity} bytes in ${at.dir}`
      : `map shared-memory segment ${at.name}`;
  const hint = hintFor(code, at);
  return new SharedMemoryError(
    `cannot ${action}: ${e.message} (${code}).${hint === undefined ? '' : ` ${hint}`}`,
    e.syscall,
    code,
    { cause: error },
  );
}
