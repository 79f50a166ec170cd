// Every number shmex was tuned with, in one place: what it trades off and
// where it was measured. The code that uses them says why it needs them.
import type { CollectionRules } from './shm/collect.js';
import type { SegmentPoolOptions } from './shm/segment-pool.js';

/**
 * Arrays (buffers) of at least this many bytes travel through shared memory;
 * smaller ones are copied inline into the message. Measured here with
 * recycled segments (node --import tsx bench/threshold.ts): a segment round
 * trip costs 0.83x the inline one at 16 KiB, 0.62x at 64 KiB, 0.44x at
 * 128 KiB. 64 KiB is also the smallest segment, so nothing smaller is worth
 * a segment of its own.
 */
export const DEFAULT_THRESHOLD = 64 * 1024;

/**
 * maxQueuedBytes, unless given: the arguments of queued tasks hold at most
 * this much shared memory (copied at submit), or this share of the
 * directory's size if smaller (a container's 64 MiB /dev/shm). 256 MiB keeps
 * ordinary bursts (many arrays up to a few MiB) fully copied at submit, and
 * holds three 80 MB arrays; a burst of 30 such arrays no longer holds 2.4 GB.
 */
export const QUEUED_BYTES_CAP = 256 * 1024 * 1024;
export const QUEUED_BYTES_DIR_SHARE = 1 / 4;

/** Below this much free space in shmDir when the executor starts, the fallback directory is used. */
export const FALLBACK_BELOW_BYTES = 1024 * 1024 * 1024;

/**
 * A task that takes less than this (ms) is quick. The parent sends quick
 * tasks (on average) several to a worker at a time; a worker gathers the
 * outcomes of quick tasks into one message while more tasks wait.
 */
export const QUICK_TASK_MS = 1;

/** How many quick tasks a worker may have been sent and not finished. */
export const PREFETCH = 16;

/**
 * Views of at least this many bytes in a frame the parent writes to a worker's pipe are written
 * from where they lie (a gathering write, writev), not copied into the frame first: a small
 * argument is then copied once in the parent (its snapshot at submit), not twice.
 */
export const FRAME_GATHER_BYTES = 1024;

/**
 * While tasks take under this (ms) on average (but are not quick), a worker may hold two of a
 * burst of submits whose arguments are copied (see WorkerPool), until the
 * burst's queue is drained: the caller's loop copies for as long as it runs,
 * and a worker that finished its one task waited for the loop's end to get
 * the next. 16 image strips of 4 MB (10 ms of work each) kept each worker
 * idle 4 to 13 ms of a call; with it, 121 ms a call against 135 (CPU 226 ms
 * against 256; medians of 15 interleaved calls, node
 * bench/scripts/chunks-ab.mjs strips 15 base=... head=...). Holding two after
 * the loop too (a worker that answers is sent the next at once): the workers'
 * idle time within a call, summed over both, 31 ms against 67 on calls the
 * machine left undisturbed (the parent's collections no longer stop both;
 * traced in bench (g)). A task queued behind another in a worker waits at
 * most about this long more than it would in the queue.
 */
export const BURST_DEPTH_MS = 50;

/**
 * A worker thread that has run out of tasks sleeps this long (ms) on a
 * shared counter its parent bumps with every message, and reads a message
 * that comes meanwhile at once, without a turn of its event loop; then it
 * goes back to its event loop (its timers wait that long at most). While
 * tasks keep coming, its event loop has a turn at least this often (see
 * WorkerRuntime.#turnNeeded).
 */
export const THREAD_IDLE_WAIT_MS = 2;

/** Outcomes a worker gathers into one 'results' message at most. */
export const MAX_GATHERED = 64;

/**
 * The parent copies the small arrays of a task's arguments into 256 KiB
 * slabs at submit, and fills a slab again once the outcomes of all its tasks
 * have come. Slabs emptied while another is being filled are kept, at most
 * this many (16 MiB: the arguments of a burst of 2000 tasks of 8 KB), until
 * none has been needed for this long (ms). Fresh slabs cost a page fault per
 * 4 KiB and, as external memory, collections: with a fresh slab every 32
 * tasks, 2000 tasks of 8 KB at once cost the parent 18.3 µs of CPU per task,
 * 14.3 µs with slabs filled again (bench/scripts/tiny-cpu.mjs).
 */
export const SNAPSHOT_SPARE_SLABS = 64;
export const SNAPSHOT_SPARE_IDLE_MS = 1000;

/**
 * What the parent's collection for dropped results may cost (ms) per MiB of
 * segments it may give back: the page faults it saves whoever makes the next
 * array of that size (a fresh 160 MB segment: about 96 ms more than a reused
 * one, 0.6 ms per MiB), and the memory, which weighs as much again. A small heap collects in a few ms; with 430 MB
 * of objects on the caller's heap, one full garbage collection of a
 * collection took 360-530 ms, so one before each call of a loop over
 * 160 MB arrays cost more than the call (bench/scripts/big-heap.mjs; V8
 * collects such a heap on its own too, incrementally, as the results'
 * external memory grows). After a collection that took t ms, the next waits
 * until t / COLLECTION_MS_PER_MIB MiB were tracked. Not in workers: their
 * heaps are small, and a map's memory bound rests on their collections
 * (under load, a worker's collection took longer than a map's chunks of
 * 8 MiB were worth, and their copies piled up).
 */
export const COLLECTION_MS_PER_MIB = 2;

/**
 * The parent: results dropped without release() hold their workers'
 * segments until this process collects them; V8 collects lazily, so a loop
 * over large results would pile up segments (four 160 MB results of a loop
 * that drops each one were held at once with a rule of 256 MiB). After every
 * 64 MiB of results still alive (SegmentBook.bytesHeldSinceCollection: a loop
 * that released each of 12 results of 16 MiB made 6 forced collections
 * before, none now), a collection (a few milliseconds on a small heap), on a
 * later turn of the event loop (the caller's code has dropped what it will
 * drop by then), at most half of the time (a large heap's collections are
 * slower, so they come less often; under load a collection of a small heap
 * took 15-25 ms against 100-150 ms for a loop's call of 160 MB). Tasks wait to be sent until it has run
 * (dispatcher.ts: #waitForCollection), so a worker reuses a dropped
 * result's segment for its next result, and no more often than it pays
 * (COLLECTION_MS_PER_MIB).
 */
export const PARENT_COLLECTION: CollectionRules = {
  bytes: 64 * 1024 * 1024,
  minIntervalMs: 0,
  maxTimeShare: 0.5,
  msPerMiB: COLLECTION_MS_PER_MIB,
  nextTurn: true,
};

/**
 * A task whose arguments' copies hold at least this many bytes gets them
 * back before its outcome ('now', see WORKER_COLLECTION), whatever is queued:
 * a loop that awaits each call copies the next argument as soon as the result
 * is in, and with the copy given back after the outcome it made a second
 * segment (a 160 MB argument: one more array of memory, and about 40 ms of
 * page faults in a fresh segment, against a collection of 5 to 15 ms).
 * Below it, a collection costs more than a fresh segment's faults (about
 * 0.6 ms per MB).
 */
export const GIVE_BACK_NOW_BYTES = 16 * 1024 * 1024;

/**
 * A worker: arrays in segments (arguments, and arrays made with empty()
 * whose results went to the parent) hold their segments until the worker
 * collects them. A worker allocates little on its own heap, so V8 may not
 * collect for a long time. The rules (TaskMessage.giveBack says which apply
 * to a task's copied arguments):
 * - copies the parent waits for, to copy the next arguments into them (a
 *   map's window, tasks over maxQueuedBytes: 'now'): right after the task,
 *   before its outcome goes out, once 8 MiB of copies were mapped since the
 *   last collection;
 * - copies of a task with no task copied at submit queued behind it (a loop
 *   of submit and await: 'after'), and arrays made here or shared mappings:
 *   once 8 MiB were mapped or made, after the outcome went out;
 * - copies of a burst of submits (a task copied at submit queued behind:
 *   no giveBack): once 64 MiB of any arrays, or when idle;
 * - once idle for 20 ms, if anything was mapped or made since.
 * A collection (one full one, or two while a deserializer keeps arrays: see
 * shm/collect.ts) costs about 4 or 8 ms on a small heap, 15 to 50 ms on a
 * loaded machine; for 'now', a minor one then
 * a full one, half that, with one more full one if the copies are still
 * mapped after it (a map over 8 chunks of 100 MB: 565 to 568 ms of CPU a
 * call against 605 to 610, medians of 9 to 11 interleaved calls, three
 * runs; its first call made no more fresh segments). Workers given 16
 * image strips of 4 MB (10 ms of work each), whose copies are all made at
 * submit, spent 40 to 60 ms each per call collecting every 8 MiB of copies
 * beside 80 to 90 ms of work; with
 * these rules none while busy (their segments come back when the workers go
 * idle, for the next call). Idle meant 5 ms before: on a loaded machine a
 * parent still copying strips, or slow to be scheduled, left workers idle
 * that long between two strips about once per call, and the collection
 * delayed the next strip by 13 to 24 ms (traced). A fresh segment costs
 * about 0.6 ms per MB in page faults, so 8 MiB the parent waits for is
 * worth a collection.
 *
 * Copy-on-write mappings (an argument whose segment another process keeps,
 * such as a chunk of an array made with from()) do not count toward the
 * 8 MiB; they weigh 1/8 of their bytes toward a collection between tasks
 * once 64 MiB are reached, or wait until the worker has been idle: given back, they
 * free only the pages the task wrote (the rest are the segment's, which its
 * owner keeps). Collecting after every task for them cost, for a sum of 1e8
 * float64 in 8 chunks of 100 MB on 2 workers, 2 full collections of about
 * 5 ms per task and freed nothing. Weighed 1/8, a worker whose tasks write
 * all of their copy-on-write arguments keeps at most 8 x 64 MiB = 512 MiB of
 * such pages while busy (as much as the tuned allocator keeps free).
 */
export const WORKER_COLLECTION: CollectionRules = {
  bytes: 64 * 1024 * 1024,
  minIntervalMs: 0,
  copyOnWriteWeight: 1 / 8,
  idleMs: 20,
  taskBytes: 8 * 1024 * 1024,
  nextTurn: false,
};

/**
 * Each process's pool of segments, unless configureSharedMemory() says
 * otherwise: idle segments are unlinked after 2 to 4 s, and at most 2 GiB of
 * them are kept idle.
 */
export const POOL_DEFAULTS: SegmentPoolOptions = { idleMs: 2000, maxIdleBytes: 2 ** 31 };

/**
 * GLIBC_TUNABLES of worker processes (workerAllocator: 'tuned'). glibc maps
 * each block of 32 MiB or more anew and unmaps it when freed, so a task that
 * returns a fresh `new Float64Array(n)` pays the page faults of all its memory
 * on every call. `mmap_max=0` serves large blocks from the heap instead, and
 * the trim threshold keeps up to 512 MiB freed at its top for the next task,
 * already faulted in (a larger free top is given back whole). `hugetlb=1`
 * backs the heap with transparent huge pages where THP is in 'madvise' mode:
 * 512 times fewer faults when the heap grows (a worker's first tasks, bursts).
 * Measured with bench/allocator-probe.ts (one run, call by call, medians of
 * CPU time of the parent and workers): addOne of 2e7 float64 through the
 * executor took 183 ms and 39k faults a call with glibc's defaults, 130 ms
 * and none with these (143 without hugetlb: its gain once memory is kept is
 * within noise, 140 against 151 in another run); the task alone in the
 * worker 116 and 81 ms.
 */
export const WORKER_MALLOC_TUNABLES =
  'glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=536870912';

/**
 * workerAllocator: 'shared' (src/worker/shared-arrays.ts): `new X(length)` in
 * a worker makes the array in a pooled segment from this many bytes up, so a
 * result travels without the copy (23 ms for 160 MB, 1.4 ms for 10 MB here).
 * Below it, arrays stay on the heap: a segment is a file, a mapping and a
 * hold to give back, and small temporaries are what a task makes most.
 */
export const SHARED_ARRAY_MIN_BYTES = 1024 * 1024;

/**
 * At most this many bytes of arrays made in segments in one turn of a
 * worker's event loop; beyond, on the heap. A dead array's segment comes back
 * only on a later turn (its finalizer runs there), so this bounds what a
 * synchronous loop of large temporaries can hold in shared memory.
 */
export const SHARED_ARRAY_TURN_BYTES = 1024 * 1024 * 1024;
/** ...and at most this share of the directory's size (a container's 64 MiB /dev/shm: 16 MiB). */
export const SHARED_ARRAY_DIR_SHARE = 1 / 4;

/**
 * A worker process idle this long (ms) collects garbage and gives malloc's
 * free memory back to the system (src/worker/heap-trim.ts). With the tuned
 * allocator a worker keeps freed memory (up to trim_threshold at the heap's
 * top, more when fragmented: 630 MB after four 160 MB arrays at once) so the
 * next task does not fault it in again; this bounds how long it keeps it.
 * Like the segment pool's idle time (POOL_DEFAULTS.idleMs): work that comes
 * back within it finds its memory.
 */
export const WORKER_HEAP_TRIM_IDLE_MS = 2000;

/**
 * shmex/cluster: arrays of at least 128 KiB travel as blobs in Redis (the
 * job itself stays small); smaller ones inline in the job, as Ray does below
 * 100 KB. Blobs go in 8 MiB chunks (Redis answers a large GET in one reply,
 * so smaller chunks cost round trips and larger ones delay the first byte),
 * each with a crc32.
 */
export const CLUSTER_INLINE_BYTES = 128 * 1024;
export const CLUSTER_CHUNK_BYTES = 8 * 1024 * 1024;
/**
 * A job's message (its arguments, its result) of at least 16 KiB travels as
 * a binary key beside the job instead of base64 in the job's JSON
 * (cluster/job-message.ts): a large string costs more than the extra
 * command, a small one less.
 */
export const CLUSTER_JOB_MESSAGE_BYTES = 16 * 1024;
/**
 * The submitter checks the state of jobs it has heard nothing of every
 * second: completion events can be missed (reconnects), so they are never
 * the only way a Future settles. A machine's heartbeat is written every 2 s
 * and lives 10 s.
 */
export const CLUSTER_RECONCILE_MS = 1000;
export const CLUSTER_HEARTBEAT_MS = 2000;
export const CLUSTER_HEARTBEAT_TTL_MS = 10_000;
/**
 * A machine whose local pool breaks (its processes keep dying while they
 * start) makes a new pool this many times in a row; past that it stops
 * taking jobs and exits, since every job it took would fail.
 */
export const CLUSTER_POOL_REBUILDS = 2;
/**
 * Plain submits made together go to the queue in batch jobs of at most 32
 * tasks, and in at least 4 x maxWorkers jobs (so every machine slot gets
 * work): per job, BullMQ and Redis cost about 0.5 ms of CPU on this
 * machine, more than a tiny task.
 */
export const CLUSTER_BATCH_TASKS = 32;
export const CLUSTER_BATCH_SPREAD = 4;
