// A fault soak: N tasks of random sizes and shapes (inline-sized to max-mb
// typed arrays of every kind, objects holding several arrays, results made
// with empty() in the task, zero-copy inputs made with empty()/from() in the
// parent, shared() inputs, results passed on to further tasks by value or by
// reference, also after their worker died), every result checked against values computed
// here, while workers are SIGKILLed at random moments, queued Futures are
// cancelled, tasks are aborted through AbortSignals, stuck tasks hit short
// timeouts, and results are released or dropped. Then it checks that every
// Future settled exactly once with a correct value or an error of an expected
// kind (and for a reason this soak caused), and, after shutdown, that no
// worker process and no segment of this process tree is left and memory is
// back near where it started. Prints a JSON summary; exits non-zero on any
// violation.
//
//   node dist-test/soak/soak.js --tasks 10000 --max-mb 64 --seed 1 --workers 2
//
// Random choices come from --seed; when kills, aborts and cancels land
// relative to the work is up to the scheduler, and the checks hold whatever it is.
import { appendFileSync, readdirSync, readFileSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  AbortError,
  CancelledError,
  empty,
  type Future,
  from,
  inSharedMemory,
  listSegmentNames,
  ProcessPoolExecutor,
  release,
  shared,
  type TaskOptions,
  TaskTimeoutError,
  type TypedArray,
  trimSharedMemory,
  WorkerCrashedError,
} from 'shmex';
import type * as SoakTasks from './soak-tasks.js';
import {
  type BundleResult,
  fillGen,
  firstMismatch,
  isBigKind,
  KINDS,
  type Kind,
  type Steps,
  sumOf,
} from './soak-tasks.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TASKS_URL = new URL('./soak-tasks.js', import.meta.url);
const MiB = 1024 * 1024;
/** The executor's default threshold: arrays at least this big travel through shared memory. */
const THRESHOLD = 64 * 1024;
/** The executor's directory: shmex's default, $SHMEX_SHM_DIR or /dev/shm (the soak passes no shmDir). */
const SHM_DIR = process.env.SHMEX_SHM_DIR || '/dev/shm';

export interface SoakOptions {
  /** Tasks to submit. */
  tasks: number;
  /** The largest array, in MiB. */
  maxMb: number;
  seed: number;
  workers: number;
  /** Futures not settled at most at any time. @default 64 */
  maxInFlight?: number;
  /** One worker kill per this many submissions, on average. @default 100 */
  killEvery?: number;
  /** The executor's maxTasksPerChild (workers also retire, holding results the parent adopts). @default unlimited */
  maxTasksPerChild?: number;
  /**
   * Sometimes release a retained result right after passing it by value to a chained task (the
   * task holds its own lease, so this is allowed). Off by default: with a worker killed while
   * such a task is queued, it fails with SharedMemoryError (ENOENT) until the library counts
   * queued leases when it adopts a dead worker's segments. @default false
   */
  releasePassedResults?: boolean;
  /** How long (ms) every Future has to settle after the last submission. @default 180000 */
  settleDeadlineMs?: number;
  /** Growth of RSS (bytes) from start to end that counts as a violation. @default 384 MiB + 4 × max-mb */
  rssGrowthLimit?: number;
  /** Progress lines go here. @default none */
  log?: (line: string) => void;
  /** One line per settled task (id, label, outcome, chaos) goes here. @default none */
  trace?: (line: string) => void;
}

export interface SoakSummary {
  ok: boolean;
  options: {
    tasks: number;
    maxMb: number;
    seed: number;
    workers: number;
    maxInFlight: number;
    killEvery: number;
    maxTasksPerChild: number | null;
    releasePassedResults: boolean;
  };
  durationMs: number;
  outcomes: Record<string, number>;
  byTask: Record<string, Record<string, number>>;
  chaos: {
    kills: number;
    /** Kills of a worker that was running (state R) then. */
    killsOfRunning: number;
    killsSkipped: number;
    crashErrors: number;
    abortsCalled: number;
    abortsWhilePending: number;
    cancelsCalled: number;
    cancelsEffective: number;
    timeoutsSet: number;
    timeoutsFired: number;
    callerWritesAfterSubmit: number;
    inputsReleasedAfterSubmit: number;
    passedResultsReleased: number;
  };
  results: { released: number; dropped: number; retained: number; rechecked: number };
  bytes: { in: number; out: number; moved: number };
  maxInFlight: number;
  maxInFlightBytes: number;
  workersSeen: number;
  pendingAtDeadline: number;
  memory: {
    rssStart: number;
    rssPeak: number;
    rssEnd: number;
    rssGrowth: number;
    heapUsedStart: number;
    heapUsedEnd: number;
    externalEnd: number;
  };
  shm: {
    ourSegmentsEnd: number;
    ourBytesEnd: number;
    ourSegmentsPeak: number;
    ourBytesPeak: number;
    devShmUsedStart: number;
    devShmUsedEnd: number;
    strayDeadOwnerSegments: number;
  };
  childrenAfterShutdown: number[];
  violations: string[];
  violationCount: number;
}

// ---- Small utilities ----

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) child processes of this process. */
function childPids(includeZombies = false): number[] {
  const pids: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return pids;
  }
  for (const tid of tasks) {
    let text: string;
    try {
      text = readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'latin1');
    } catch {
      continue;
    }
    for (const word of text.split(/\s+/)) {
      if (word === '') continue;
      const pid = Number(word);
      if (includeZombies || procStat(pid)?.[0] !== 'Z') pids.push(pid);
    }
  }
  return pids;
}

/**
 * Whether a child has finished starting as a worker: it has mapped its
 * receipts segment (it does so just before it says 'ready'). Killing workers
 * only then keeps the pool from counting "died while starting" three times
 * in a row and declaring itself broken, which is its documented behaviour.
 */
function workerReady(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'latin1').includes(`${SHM_DIR}/shmex.`);
  } catch {
    return false;
  }
}

function ownerPid(name: string): number {
  return Number(name.split('.')[1]);
}

function segmentBytes(names: string[]): number {
  let total = 0;
  for (const name of names) {
    try {
      total += statSync(`${SHM_DIR}/${name}`).size;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** A segment's size and the dtype and shape in its .npy header, for reports. */
function describeSegment(name: string): string {
  try {
    const path = `${SHM_DIR}/${name}`;
    const head = readFileSync(path).subarray(0, 256).toString('latin1');
    const dict = /\{[^}]*\}/.exec(head)?.[0] ?? '?';
    return `(${statSync(path).size} bytes, ${dict})`;
  } catch (error) {
    return `(${errorText(error)})`;
  }
}

function devShmUsed(): number {
  try {
    const s = statfsSync(SHM_DIR);
    return (s.blocks - s.bfree) * s.bsize;
  } catch {
    return -1;
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error)
    return `${error.name}(${(error as { code?: string }).code ?? ''}): ${error.message}`;
  return String(error);
}

type AnyTyped = TypedArray;
const isTyped = (v: unknown): v is AnyTyped => ArrayBuffer.isView(v) && !(v instanceof DataView);

// ---- The soak ----

type Outcome = 'ok' | 'CancelledError' | 'AbortError' | 'TaskTimeoutError' | 'WorkerCrashedError' | 'other';

interface Rec {
  id: number;
  label: string;
  /** Dropped once settled, so that the soak keeps no result alive. */
  future: Future<unknown> | undefined;
  submittedAt: number;
  /** killSeq when it was submitted: a WorkerCrashedError needs a kill after that. */
  killSeqAtSubmit: number;
  bytesIn: number;
  /** Bytes counted against the in-flight budget. */
  budget: number;
  timeout?: number;
  /** A task that cannot finish in time (it spins for 20 s): success is a violation. */
  mustNotSucceed?: boolean;
  preAborted?: boolean;
  abortReason?: unknown;
  /** Event number of an abort() made while the Future was not done. */
  abortedWhilePendingAt?: number;
  /** Event number of a cancel() that returned true. */
  cancelledAt?: number;
  /** Checks a value the task returned; returns what is wrong, or undefined. */
  verify(value: unknown): string | undefined;
  /** Runs once the Future settled, whatever the outcome (input checks, releases). */
  after?(ok: boolean): void;
  doneCallbacks: number;
  awaitSettles: number;
  outcome?: Outcome;
}

/** What an array must hold: gen(seed, i) for i < n, transformed by `steps`, as `kind` stores it. */
interface Expect {
  kind: Kind;
  n: number;
  seed: number;
  steps: Steps;
}

interface Retained {
  label: string;
  arrays: AnyTyped[];
  bytes: number;
  recheck(): string | undefined;
  /** For a result that is one array of known values: it may be passed on to a chained task. */
  expect?: Expect;
}

export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const t0 = performance.now();
  const maxInFlight = options.maxInFlight ?? 64;
  const killEvery = options.killEvery ?? 100;
  const settleDeadlineMs = options.settleDeadlineMs ?? 180_000;
  const maxBytes = Math.max(1, Math.floor(options.maxMb * MiB));
  const rssGrowthLimit = options.rssGrowthLimit ?? 384 * MiB + 4 * maxBytes;
  const inFlightBudget = Math.max(256 * MiB, 3 * maxBytes);
  const retainBudget = Math.min(256 * MiB, 2 * maxBytes);
  const log = options.log ?? (() => {});
  // Separate streams: what is submitted depends on --seed only; choices made when results
  // arrive, or kills land, depend on timing and must not shift it.
  const rng = mulberry32(options.seed);
  const killRng = mulberry32(options.seed ^ 0x5bd1e995);
  const settleRng = mulberry32(options.seed ^ 0x27d4eb2f);
  const chainRng = mulberry32(options.seed ^ 0x165667b1);
  const violations: string[] = [];
  let violationCount = 0;
  const violation = (text: string) => {
    violationCount++;
    if (violations.length < 200) violations.push(text);
    if (violationCount <= 20) log(`VIOLATION: ${text}`);
  };

  // Which processes are ours: this one and every worker it ever had.
  const workerPids = new Set<number>();
  const isOurs = (name: string) => {
    const pid = ownerPid(name);
    return pid === process.pid || workerPids.has(pid);
  };
  const ourSegments = () => listSegmentNames(SHM_DIR).filter(isOurs);
  const watchChildren = () => {
    for (const pid of childPids(true)) workerPids.add(pid);
  };

  gc();
  gc();
  const rssStart = process.memoryUsage().rss;
  const heapUsedStart = process.memoryUsage().heapUsed;
  const devShmUsedStart = devShmUsed();
  let rssPeak = rssStart;
  let ourSegmentsPeak = 0;
  let ourBytesPeak = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    watchChildren();
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    if (++samples % 25 === 0) {
      const names = ourSegments();
      ourSegmentsPeak = Math.max(ourSegmentsPeak, names.length);
      ourBytesPeak = Math.max(ourBytesPeak, segmentBytes(names));
    }
  }, 10);

  const outcomes: Record<string, number> = {};
  const byTask: Record<string, Record<string, number>> = {};
  const chaos = {
    kills: 0,
    killsOfRunning: 0,
    killsSkipped: 0,
    crashErrors: 0,
    abortsCalled: 0,
    abortsWhilePending: 0,
    cancelsCalled: 0,
    cancelsEffective: 0,
    timeoutsSet: 0,
    timeoutsFired: 0,
    callerWritesAfterSubmit: 0,
    inputsReleasedAfterSubmit: 0,
    passedResultsReleased: 0,
  };
  const results = { released: 0, dropped: 0, retained: 0, rechecked: 0 };
  let bytesIn = 0;
  let bytesOut = 0;
  let maxSeenInFlight = 0;
  let maxSeenInFlightBytes = 0;
  let event = 0;

  const ex = new ProcessPoolExecutor({
    maxWorkers: options.workers,
    ...(options.maxTasksPerChild === undefined ? {} : { maxTasksPerChild: options.maxTasksPerChild }),
  });

  // ---- Kills ----
  let killSeq = 0;
  /** pid -> killSeq of its kill */
  const killed = new Map<number, number>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const killOne = () => {
    watchChildren();
    const candidates = childPids().filter((pid) => !killed.has(pid) && workerReady(pid));
    if (candidates.length === 0) {
      chaos.killsSkipped++;
      return;
    }
    // Mostly a worker that is running now (computing or copying: a task is in progress), so that
    // kills land in the middle of tasks more often than between them.
    const running = candidates.filter((pid) => procStat(pid)?.[0] === 'R');
    const pool = running.length > 0 && killRng() < 0.7 ? running : candidates;
    const pid = pool[Math.floor(killRng() * pool.length)]!;
    if (running.includes(pid)) chaos.killsOfRunning++;
    killed.set(pid, ++killSeq);
    try {
      process.kill(pid, 'SIGKILL');
      chaos.kills++;
    } catch {
      chaos.killsSkipped++;
    }
  };

  // ---- Results: release, drop, or keep a while and check again ----
  const ring: Retained[] = [];
  let ringBytes = 0;
  const releaseOrDrop = (arrays: AnyTyped[], label: string) => {
    if (settleRng() < 0.5) {
      for (const a of arrays) {
        const wasShared = inSharedMemory(a);
        const released = release(a);
        if (released !== wasShared)
          violation(`${label}: release() returned ${released}, inSharedMemory ${wasShared}`);
        if (released && a.length !== 0)
          violation(`${label}: a released array still has ${a.length} elements`);
      }
      results.released++;
    } else {
      results.dropped++;
    }
  };
  const recheck = (entry: Retained) => {
    results.rechecked++;
    const problem = entry.recheck();
    if (problem !== undefined) violation(`${entry.label}: a retained result changed: ${problem}`);
  };
  const retain = (entry: Retained) => {
    ring.push(entry);
    ringBytes += entry.bytes;
    while (ring.length > 32 || ringBytes > retainBudget) {
      const old = ring.shift()!;
      ringBytes -= old.bytes;
      recheck(old);
      releaseOrDrop(old.arrays, old.label);
    }
  };
  const takeResult = (
    label: string,
    arrays: AnyTyped[],
    recheckIt: () => string | undefined,
    expect?: Expect,
  ) => {
    for (const a of arrays) {
      bytesOut += a.byteLength;
      if (a.byteLength >= THRESHOLD && !inSharedMemory(a)) {
        violation(`${label}: a result of ${a.byteLength} bytes is not in shared memory`);
      }
    }
    const bytes = arrays.reduce((sum, a) => sum + a.byteLength, 0);
    if (settleRng() < 0.3 && bytes <= retainBudget) {
      results.retained++;
      const entry: Retained = { label, arrays, bytes, recheck: recheckIt };
      if (expect !== undefined) entry.expect = expect;
      retain(entry);
    } else {
      releaseOrDrop(arrays, label);
    }
  };
  /** A retained result of known values, out of the ring (nothing else uses it meanwhile). */
  const takeFromRing = (): (Retained & { expect: Expect }) | undefined => {
    const eligible = ring.filter(
      (entry) =>
        entry.expect !== undefined && entry.arrays[0]!.length > 0 && inSharedMemory(entry.arrays[0]!),
    );
    if (eligible.length === 0) return undefined;
    const entry = eligible[Math.floor(chainRng() * eligible.length)]!;
    ring.splice(ring.indexOf(entry), 1);
    ringBytes -= entry.bytes;
    return entry as Retained & { expect: Expect };
  };

  // ---- Sizes and kinds ----
  const logUniform = (lo: number, hi: number) =>
    Math.floor(Math.exp(Math.log(lo) + rng() * (Math.log(hi) - Math.log(lo))));
  const pickBytes = (limit = maxBytes) => {
    const r = rng();
    if (r < 0.02) return 0;
    if (r < 0.45 || limit <= THRESHOLD) return Math.floor(rng() * Math.min(THRESHOLD, limit));
    const mid = Math.min(MiB, limit);
    if (r < 0.9 || limit <= MiB) return logUniform(THRESHOLD, mid);
    return logUniform(MiB, limit);
  };
  const kindNames = Object.keys(KINDS) as Kind[];
  const pickKind = () => kindNames[Math.floor(rng() * kindNames.length)]!;
  /** An element count for `kind` (BigInt arrays are made and checked slowly: at most 256 KiB). */
  const pickLength = (kind: Kind, minimum = 0) => {
    const limit = isBigKind(kind) ? Math.min(maxBytes, 256 * 1024) : maxBytes;
    return Math.max(minimum, Math.floor(pickBytes(limit) / KINDS[kind].BYTES_PER_ELEMENT));
  };
  const makeGen = (kind: Kind, n: number, seed: number): AnyTyped => {
    const x = new KINDS[kind](n);
    fillGen(x, seed);
    return x;
  };
  const mismatch = (y: unknown, kind: Kind, n: number, seed: number, steps: Steps): string | undefined => {
    if (!isTyped(y)) return `expected a ${kind}, got ${Object.prototype.toString.call(y)}`;
    const at = firstMismatch(y, kind, n, seed, steps);
    if (at === -1) return undefined;
    if (at === -2) return `expected a ${kind}, got a ${y.constructor.name}`;
    if (at === -3) return `expected ${n} elements, got ${y.length}`;
    if (at === -4) return 'the bytes differ, not the values';
    return `element ${at} of ${n} is ${String(y[at])}`;
  };
  const check = (y: unknown, e: Expect) => mismatch(y, e.kind, e.n, e.seed, e.steps);
  /** Checks a single-array result; if right, takes it (retained for chains, released or dropped). */
  const verifyArray = (label: string, e: Expect) => (y: unknown) => {
    const problem = check(y, e);
    if (problem === undefined) takeResult(label, [y as AnyTyped], () => check(y, e), e);
    return problem;
  };

  // ---- Submitting ----
  const live = new Set<Rec>();
  const all: Rec[] = [];
  let inFlightBytes = 0;
  let wake: (() => void) | undefined;
  let nextId = 1;

  const classify = (error: unknown): Outcome => {
    if (error instanceof CancelledError) return 'CancelledError';
    if (error instanceof AbortError) return 'AbortError';
    if (error instanceof TaskTimeoutError) return 'TaskTimeoutError';
    if (error instanceof WorkerCrashedError) return 'WorkerCrashedError';
    return 'other';
  };

  const settled = (rec: Rec, ok: boolean, valueOrError: unknown) => {
    rec.awaitSettles++;
    if (rec.awaitSettles > 1) {
      violation(`#${rec.id} ${rec.label}: settled ${rec.awaitSettles} times through await`);
      return;
    }
    const f = rec.future!;
    const where = `#${rec.id} ${rec.label}`;
    if (!f.done()) violation(`${where}: settled but done() is false`);
    if (ok) {
      rec.outcome = 'ok';
      if (rec.cancelledAt !== undefined) violation(`${where}: cancel() returned true, yet it resolved`);
      if (rec.abortedWhilePendingAt !== undefined)
        violation(`${where}: aborted while pending, yet it resolved`);
      if (rec.preAborted) violation(`${where}: its signal was aborted before submit, yet it resolved`);
      if (rec.mustNotSucceed) violation(`${where}: a ${rec.timeout} ms timeout did not stop a 20 s task`);
      if (f.cancelled()) violation(`${where}: resolved but cancelled() is true`);
      let problem: string | undefined;
      try {
        problem = rec.verify(valueOrError);
      } catch (error) {
        problem = `verify threw ${errorText(error)}`;
      }
      if (problem !== undefined) violation(`${where}: wrong result: ${problem}`);
    } else {
      const error = valueOrError;
      const kind = classify(error);
      rec.outcome = kind;
      const why = (text: string) => violation(`${where}: ${errorText(error)}: ${text}`);
      switch (kind) {
        case 'CancelledError':
          if (rec.cancelledAt === undefined) why('a CancelledError without a cancel() that returned true');
          else if (rec.abortedWhilePendingAt !== undefined && rec.abortedWhilePendingAt < rec.cancelledAt)
            why('aborted before it was cancelled: expected an AbortError');
          if (!f.cancelled()) why('cancelled() is false');
          break;
        case 'AbortError':
          if (rec.abortedWhilePendingAt === undefined && !rec.preAborted)
            why('an AbortError without an abort while the Future was pending');
          if ((error as AbortError).cause !== rec.abortReason) why("its cause is not the signal's reason");
          if (rec.cancelledAt !== undefined && rec.cancelledAt < (rec.abortedWhilePendingAt ?? 0))
            why('cancelled before it was aborted: expected a CancelledError');
          break;
        case 'TaskTimeoutError': {
          chaos.timeoutsFired++;
          const elapsed = performance.now() - rec.submittedAt;
          if (rec.timeout === undefined) why('a TaskTimeoutError for a task without a timeout');
          else if ((error as TaskTimeoutError).timeout !== rec.timeout)
            why(`its timeout is ${(error as TaskTimeoutError).timeout}, not ${rec.timeout}`);
          else if (elapsed < rec.timeout - 2) why(`it fired ${elapsed.toFixed(1)} ms after submit`);
          if (f.cancelled()) why('cancelled() is true');
          break;
        }
        case 'WorkerCrashedError': {
          chaos.crashErrors++;
          const e = error as WorkerCrashedError;
          const seq = e.pid === undefined ? undefined : killed.get(e.pid);
          if (e.signal !== 'SIGKILL') why(`signal ${e.signal}, exit code ${e.exitCode}: not a kill of ours`);
          else if (seq === undefined) why(`pid ${e.pid} is not a worker this soak killed`);
          else if (seq <= rec.killSeqAtSubmit) why(`pid ${e.pid} was killed before this task was submitted`);
          if (f.cancelled()) why('cancelled() is true');
          break;
        }
        default: {
          // For a segment named in the error: whose it was, and whether that worker lives.
          const owner = /shmex\.(\d+)\./.exec(String((error as Error)?.message))?.[1];
          let about = '';
          if (owner !== undefined) {
            const pid = Number(owner);
            const seq = killed.get(pid);
            about =
              ` [segment owner ${pid}: ${pid === process.pid ? 'this process' : workerPids.has(pid) ? 'a worker' : 'unknown'}, ` +
              `${procStat(pid) === undefined ? 'gone' : 'alive'} now, ` +
              `${seq === undefined ? 'not killed by the soak' : `killed by the soak ${seq <= rec.killSeqAtSubmit ? 'before' : 'after'} submit`}]`;
          }
          why(`an unexpected failure${about}: ${(error as Error)?.stack ?? ''}`);
        }
      }
    }
    options.trace?.(
      `${(performance.now() - t0).toFixed(0)} +${(performance.now() - rec.submittedAt).toFixed(0)}ms #${rec.id} ${rec.label} -> ${rec.outcome}${ok ? '' : ` ${errorText(valueOrError)}`}` +
        `${rec.abortedWhilePendingAt !== undefined ? ' [aborted]' : ''}${rec.cancelledAt !== undefined ? ' [cancelled]' : ''}` +
        `${rec.timeout !== undefined ? ` [timeout ${rec.timeout}]` : ''}`,
    );
    outcomes[rec.outcome] = (outcomes[rec.outcome] ?? 0) + 1;
    const taskName = rec.label.split(' ')[0]!;
    const perTask = byTask[taskName] ?? {};
    byTask[taskName] = perTask;
    perTask[rec.outcome] = (perTask[rec.outcome] ?? 0) + 1;
    try {
      rec.after?.(ok);
    } catch (error) {
      violation(`${where}: after-check threw ${errorText(error)}`);
    }
    // Nothing of the task's values is kept past this point: drop the closures.
    rec.verify = () => undefined;
    rec.after = undefined;
    rec.future = undefined;
    if (live.delete(rec)) inFlightBytes -= rec.budget;
    wake?.();
  };

  const track = (rec: Rec) => {
    all.push(rec);
    live.add(rec);
    inFlightBytes += rec.budget;
    maxSeenInFlight = Math.max(maxSeenInFlight, live.size);
    maxSeenInFlightBytes = Math.max(maxSeenInFlightBytes, inFlightBytes);
    bytesIn += rec.bytesIn;
    const future = rec.future!;
    future.addDoneCallback((f) => {
      rec.doneCallbacks++;
      if (rec.doneCallbacks > 1)
        violation(`#${rec.id} ${rec.label}: done callback ran ${rec.doneCallbacks} times`);
      if (f !== future || !f.done()) violation(`#${rec.id} ${rec.label}: done callback on a Future not done`);
    });
    future.then(
      (value) => settled(rec, true, value),
      (error: unknown) => settled(rec, false, error),
    );
  };

  /** Builds one task: picks what it is, submits it through `runner`, returns its record. */
  const submitOne = () => {
    const id = nextId++;
    const seed = Math.floor(rng() * 2 ** 31);
    // Orthogonal chaos, decided first so the runner carries it.
    const abortPlan = rng() < 0.06 ? (rng() < 0.25 ? 0 : 1 + Math.floor(rng() * 30)) : undefined;
    const cancelPlan = rng() < 0.05 ? (rng() < 0.3 ? 0 : 1 + Math.floor(rng() * 20)) : undefined;
    const r = rng();
    const base: Omit<Rec, 'label' | 'future' | 'bytesIn' | 'budget' | 'verify'> = {
      id,
      submittedAt: performance.now(),
      killSeqAtSubmit: killSeq,
      doneCallbacks: 0,
      awaitSettles: 0,
    };
    const limits: TaskOptions = {};
    let controller: AbortController | undefined;
    if (abortPlan !== undefined) {
      controller = new AbortController();
      limits.signal = controller.signal;
      base.abortReason = new Error(`abort #${id}`);
    }
    const withLimits = (timeout?: number) => {
      if (timeout !== undefined) {
        limits.timeout = timeout;
        base.timeout = timeout;
        chaos.timeoutsSet++;
      }
      return limits.signal !== undefined || limits.timeout !== undefined ? ex.withOptions(limits) : ex;
    };
    let rec: Rec;
    // The last branches draw the same numbers from `rng` whichever runs (a chain depends on
    // which results came back, that is on timing, and must not shift what is submitted next).
    const tinyValue = r >= 0.88 ? Math.floor(rng() * 1000) : 0;
    const tinyGenerous = r >= 0.88 && rng() < 0.1;
    const chained = r >= 0.88 && r < 0.95 ? takeFromRing() : undefined;

    if (r < 0.22) {
      // An ordinary array in, x * a + b out in a new heap array; sometimes the caller writes to
      // its array right after submit (the task must not see it).
      const kind = pickKind();
      const n = pickLength(kind);
      const x = makeGen(kind, n, seed);
      const a = 1 + Math.floor(rng() * 3);
      const b = Math.floor(rng() * 5) - 2;
      const runner = withLimits(rng() < 0.1 ? 60_000 : undefined);
      const future = runner.module<typeof SoakTasks>(TASKS_URL).affine(x, a, b);
      const overwrite = rng() < 0.3;
      if (overwrite) {
        chaos.callerWritesAfterSubmit++;
        if (isBigKind(kind)) (x as BigInt64Array).fill(99n);
        else (x as Float64Array).fill(99);
      }
      const label = `affine ${kind}[${n}]`;
      rec = {
        ...base,
        label,
        future,
        bytesIn: x.byteLength,
        budget: 2 * x.byteLength,
        verify: verifyArray(label, { kind, n, seed, steps: [[a, b]] }),
      };
    } else if (r < 0.37) {
      // A zero-copy input made with empty() or from() here; the task makes its output with
      // empty() and then overwrites its (copy-on-write) input, which must not reach us.
      const kind = pickKind();
      const n = pickLength(kind);
      let x: AnyTyped;
      if (rng() < 0.3)
        x = from(KINDS[kind] as Float64ArrayConstructor, makeGen(kind, n, seed) as Float64Array);
      else {
        x = empty(KINDS[kind], n);
        fillGen(x, seed);
      }
      const a = 1 + Math.floor(rng() * 3);
      const b = Math.floor(rng() * 5) - 2;
      const runner = withLimits(rng() < 0.1 ? 60_000 : undefined);
      const future = runner.module<typeof SoakTasks>(TASKS_URL).affineShm(x, a, b);
      let input: AnyTyped | undefined = x;
      if (rng() < 0.2) {
        // Released while the task may still be queued: the task still gets its values.
        chaos.inputsReleasedAfterSubmit++;
        release(x);
        input = undefined;
      }
      const label = `affineShm ${kind}[${n}]`;
      rec = {
        ...base,
        label,
        future,
        bytesIn: x.byteLength,
        budget: 2 * n * KINDS[kind].BYTES_PER_ELEMENT,
        verify: verifyArray(label, { kind, n, seed, steps: [[a, b]] }),
        after: () => {
          if (input === undefined) return;
          const problem = mismatch(input, kind, n, seed, []);
          if (problem !== undefined)
            violation(`#${id} ${label}: the caller's zero-copy input changed: ${problem}`);
          releaseOrDrop([input], label);
          input = undefined;
        },
      };
    } else if (r < 0.49) {
      // The task makes its result with empty().
      const kind = pickKind();
      const n = pickLength(kind);
      const runner = withLimits(rng() < 0.1 ? 60_000 : undefined);
      const future = runner.module<typeof SoakTasks>(TASKS_URL).generate(kind, n, seed);
      const label = `generate ${kind}[${n}]`;
      rec = {
        ...base,
        label,
        future,
        bytesIn: 0,
        budget: n * KINDS[kind].BYTES_PER_ELEMENT,
        verify: verifyArray(label, { kind, n, seed, steps: [] }),
      };
    } else if (r < 0.61) {
      // An object holding several arrays (two of them views of one buffer, two in a Map) in and out.
      const total = pickBytes();
      const nA = Math.floor(total / 2 / 8);
      const nB = Math.floor(total / 4 / 4);
      const nC = Math.floor(rng() * 1000);
      const half = Math.floor(total / 8 / 4);
      const a = makeGen('Float64Array', nA, seed) as Float64Array;
      const b = makeGen('Int32Array', nB, seed + 1) as Int32Array;
      const c = makeGen('Uint8Array', nC, seed + 2) as Uint8Array;
      const whole = makeGen('Float32Array', 2 * half, seed + 3) as Float32Array;
      const left = new Float32Array(whole.buffer, 0, half);
      const right = new Float32Array(whole.buffer, half * 4, half);
      const extra = new Map([
        ['p', makeGen('Uint16Array', 17, seed + 4) as Uint16Array],
        ['q', makeGen('Uint16Array', Math.floor(rng() * 50_000), seed + 5) as Uint16Array],
      ]);
      const expected = {
        sumA: sumOf(a),
        left: sumOf(left),
        right: sumOf(right),
        extra: new Map([...extra].map(([k, v]) => [k, sumOf(v)])),
      };
      const tag = `bundle-${id}`;
      const runner = withLimits(rng() < 0.1 ? 60_000 : undefined);
      const future = runner
        .module<typeof SoakTasks>(TASKS_URL)
        .bundle({ a, b, c, left, right, tag, seed, extra });
      const bytes =
        a.byteLength + b.byteLength + c.byteLength + whole.byteLength + 2 * 17 + extra.get('q')!.byteLength;
      const label = `bundle f64[${nA}]+i32[${nB}]+f32x2[${half}]`;
      const check = (value: unknown): string | undefined => {
        const v = value as BundleResult;
        if (typeof v !== 'object' || v === null) return `not an object: ${String(v)}`;
        if (v.tag !== tag) return `tag ${v.tag}`;
        if (v.sumA !== expected.sumA) return `sumA ${v.sumA} != ${expected.sumA}`;
        if (v.leftSum !== expected.left || v.rightSum !== expected.right) return 'view sums differ';
        if (v.sameBuffer !== true) return 'two views of one buffer arrived in two buffers';
        if (
          !(v.extra instanceof Map) ||
          v.extra.get('p') !== expected.extra.get('p') ||
          v.extra.get('q') !== expected.extra.get('q')
        )
          return 'Map of sums differs';
        const pb = mismatch(v.b, 'Int32Array', nB, seed + 1, [[2, 1]]);
        if (pb !== undefined) return `b: ${pb}`;
        if (!(v.cReversed instanceof Uint8Array) || v.cReversed.length !== nC) return 'cReversed';
        for (let i = 0; i < nC; i++) if (v.cReversed[i] !== c[nC - 1 - i]) return `cReversed[${i}]`;
        const ps = mismatch(v.scaled?.deep?.[0], 'Float64Array', nA, seed, [[3, -1]]);
        if (ps !== undefined) return `scaled: ${ps}`;
        return undefined;
      };
      rec = {
        ...base,
        label,
        future,
        bytesIn: bytes,
        budget: 2 * bytes,
        verify: (value) => {
          const problem = check(value);
          if (problem === undefined) {
            const v = value as BundleResult;
            takeResult(label, [v.b, v.cReversed, v.scaled.deep[0]], () => check(value));
          }
          return problem;
        },
      };
    } else if (r < 0.68) {
      // A function task (sent as source) summing an ordinary or a zero-copy Float64Array.
      const n = pickLength('Float64Array');
      const zeroCopy = rng() < 0.5;
      const x = zeroCopy ? empty(Float64Array, n) : new Float64Array(n);
      fillGen(x, seed);
      const expected = sumOf(x);
      const runner = withLimits(rng() < 0.1 ? 60_000 : undefined);
      const future = runner.submit((v: Float64Array) => {
        let s = 0;
        for (let i = 0; i < v.length; i++) s += v[i]!;
        return s;
      }, x);
      const label = `fnSum f64[${n}]${zeroCopy ? ' zero-copy' : ''}`;
      let input: Float64Array | undefined = x;
      rec = {
        ...base,
        label,
        future,
        bytesIn: x.byteLength,
        budget: x.byteLength,
        verify: (s) => (s === expected ? undefined : `sum ${String(s)} != ${expected}`),
        after: () => {
          if (zeroCopy && input !== undefined) releaseOrDrop([input], label);
          input = undefined;
        },
      };
    } else if (r < 0.73) {
      // A function task that uses empty() by name.
      const n = pickLength('Float64Array');
      const runner = withLimits(rng() < 0.1 ? 60_000 : undefined);
      const future = runner.submit(
        (count: number, s: number) => {
          const y = empty(Float64Array, count);
          for (let i = 0; i < count; i++)
            y[i] = ((Math.imul(i ^ s, 0x9e3779b1) >>> 19) & 0x1fff) - 4096 + 0.25;
          return y;
        },
        n,
        seed,
      );
      const label = `fnEmpty f64[${n}]`;
      rec = {
        ...base,
        label,
        future,
        bytesIn: 0,
        budget: n * 8,
        verify: verifyArray(label, { kind: 'Float64Array', n, seed, steps: [] }),
      };
    } else if (r < 0.78) {
      // shared(): the task adds 1 to the caller's array in place.
      const n = pickLength('Float64Array', 1);
      const x = empty(Float64Array, n);
      fillGen(x, seed);
      const runner = withLimits(rng() < 0.1 ? 60_000 : undefined);
      const future = runner.module<typeof SoakTasks>(TASKS_URL).addOneInPlace(shared(x));
      const label = `shared f64[${n}]`;
      let input: Float64Array | undefined = x;
      rec = {
        ...base,
        label,
        future,
        bytesIn: x.byteLength,
        budget: x.byteLength,
        verify: (len) => {
          if (len !== n) return `returned ${String(len)}, not ${n}`;
          return mismatch(input, 'Float64Array', n, seed, [[1, 1]]);
        },
        after: () => {
          // A task stopped midway leaves x half-written: not checked, only given back.
          if (input !== undefined) releaseOrDrop([input], label);
          input = undefined;
        },
      };
    } else if (r < 0.81) {
      // Which worker runs it.
      const runner = withLimits(rng() < 0.1 ? 60_000 : undefined);
      const future = runner.submit(() => process.pid);
      rec = {
        ...base,
        label: 'pid',
        future,
        bytesIn: 0,
        budget: 0,
        verify: (pid) => {
          if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return `pid ${String(pid)}`;
          workerPids.add(pid);
          return undefined;
        },
      };
    } else if (r < 0.84) {
      // Stuck: spins for 20 s with a timeout of 5 to 100 ms.
      const timeout = 5 + Math.floor(rng() * 96);
      const runner = withLimits(timeout);
      const future = runner.module<typeof SoakTasks>(TASKS_URL).spin(20_000);
      rec = {
        ...base,
        label: `stuck timeout=${timeout}`,
        future,
        bytesIn: 0,
        budget: 0,
        mustNotSucceed: true,
        verify: (v) => (v === 'spun' ? undefined : `returned ${String(v)}`),
      };
    } else if (r < 0.87) {
      // Borderline: sleeps about as long as its timeout; either outcome is fine.
      const ms = 1 + Math.floor(rng() * 40);
      const timeout = Math.max(1, Math.floor(ms * (0.5 + rng() * 1.5)));
      const runner = withLimits(timeout);
      const future = runner.module<typeof SoakTasks>(TASKS_URL).sleep(ms);
      rec = {
        ...base,
        label: `borderline sleep=${ms} timeout=${timeout}`,
        future,
        bytesIn: 0,
        budget: 0,
        verify: (v) => (v === ms ? undefined : `returned ${String(v)}`),
      };
    } else if (r < 0.88) {
      // A signal aborted before submit: a cancelled Future at once, nothing encoded or run.
      const reason = new Error(`aborted before submit #${id}`);
      const n = pickLength('Float64Array');
      const x = new Float64Array(n);
      const future = ex
        .withOptions({ signal: AbortSignal.abort(reason) })
        .module<typeof SoakTasks>(TASKS_URL)
        .affine(x, 1, 0);
      if (!future.cancelled())
        violation(`#${id}: a Future with a signal aborted before submit is not cancelled at once`);
      rec = {
        ...base,
        label: 'preAborted',
        future,
        bytesIn: 0,
        budget: 0,
        preAborted: true,
        abortReason: reason,
        verify: () => 'it resolved',
      };
      // No other chaos for this one.
      trackAndChaos(rec, undefined, undefined, undefined);
      return;
    } else if (chained !== undefined) {
      // A retained result (in a worker's segment, maybe a worker that has died since and whose
      // segment this process adopted) passed on to another task: by value (the task may write
      // to its copy; ours must not change), or by reference with shared() (the task transforms it in place).
      const entry = chained;
      const y = entry.arrays[0]!;
      const yBytes = y.byteLength;
      const e = entry.expect;
      const a = 1 + Math.floor(chainRng() * 2);
      const b = Math.floor(chainRng() * 3) - 1;
      const how = chainRng();
      const mode = how < 0.35 ? 'shared' : how < 0.65 ? 'affineShm' : 'affine';
      const runner = withLimits(tinyGenerous ? 60_000 : undefined).module<typeof SoakTasks>(TASKS_URL);
      const label = `chain-${mode} ${e.kind}[${e.n}] after ${e.steps.length} steps`;
      const next: Expect = { ...e, steps: [...e.steps, [a, b]] };
      if (mode === 'shared') {
        const future = runner.affineInPlace(shared(y), a, b);
        rec = {
          ...base,
          label,
          future,
          bytesIn: y.byteLength,
          budget: y.byteLength,
          verify: (len) => {
            if (len !== e.n) return `returned ${String(len)}, not ${e.n}`;
            return check(y, next);
          },
          after: (ok) => {
            // Stopped midway, the array is half-transformed: not checked, not retained.
            if (ok)
              retain({ ...entry, label: `${label} (in place)`, recheck: () => check(y, next), expect: next });
            else releaseOrDrop([y], label);
          },
        };
      } else {
        const future = mode === 'affine' ? runner.affine(y, a, b) : runner.affineShm(y, a, b);
        if (options.releasePassedResults && chainRng() < 0.3) {
          // The task has its own hold on the segment: our array may go at once.
          chaos.passedResultsReleased++;
          release(y);
          rec = {
            ...base,
            label: `${label} released`,
            future,
            bytesIn: yBytes,
            budget: 2 * yBytes,
            verify: verifyArray(label, next),
          };
          trackAndChaos(rec, controller, abortPlan, cancelPlan);
          return;
        }
        rec = {
          ...base,
          label,
          future,
          bytesIn: y.byteLength,
          budget: 2 * y.byteLength,
          verify: verifyArray(label, next),
          after: () => {
            const problem = check(y, e);
            if (problem !== undefined)
              violation(`#${id} ${label}: the array passed by value changed: ${problem}`);
            retain(entry);
          },
        };
      }
    } else {
      // Quick tiny tasks (batched several to a message by the pool).
      const v = tinyValue;
      const runner = withLimits(tinyGenerous ? 60_000 : undefined);
      const future = runner.submit((k: number) => k * 3 + 1, v);
      rec = {
        ...base,
        label: 'tiny',
        future,
        bytesIn: 0,
        budget: 0,
        verify: (y) => (y === v * 3 + 1 ? undefined : `returned ${String(y)}`),
      };
    }
    trackAndChaos(rec, controller, abortPlan, cancelPlan);
  };

  const doAbort = (rec: Rec, controller: AbortController) => {
    chaos.abortsCalled++;
    const future = rec.future; // undefined: settled already
    const wasDone = future?.done() ?? true;
    const at = ++event;
    controller.abort(rec.abortReason);
    if (!wasDone) {
      chaos.abortsWhilePending++;
      rec.abortedWhilePendingAt = at;
      if (!future!.done())
        violation(`#${rec.id} ${rec.label}: abort() did not settle the pending Future at once`);
    }
  };
  const doCancel = (rec: Rec, immediate: boolean) => {
    const future = rec.future;
    if (future === undefined) return; // settled already
    chaos.cancelsCalled++;
    const wasCancelled = future.cancelled();
    const at = ++event;
    const cancelled = future.cancel();
    if (cancelled) {
      if (!wasCancelled) {
        chaos.cancelsEffective++;
        rec.cancelledAt = at;
      }
      if (!future.cancelled())
        violation(`#${rec.id} ${rec.label}: cancel() returned true, cancelled() is false`);
    } else {
      if (immediate) violation(`#${rec.id} ${rec.label}: cancel() right after submit returned false`);
      if (!future.running() && !future.done())
        violation(`#${rec.id} ${rec.label}: cancel() returned false on a Future neither running nor done`);
    }
  };

  function trackAndChaos(
    rec: Rec,
    controller: AbortController | undefined,
    abortPlan: number | undefined,
    cancelPlan: number | undefined,
  ): void {
    track(rec);
    if (controller !== undefined && abortPlan !== undefined) {
      if (abortPlan === 0) {
        doAbort(rec, controller);
        if (!rec.future?.cancelled())
          violation(`#${rec.id} ${rec.label}: aborted right after submit, not cancelled`);
      } else later(abortPlan, () => doAbort(rec, controller));
    }
    if (cancelPlan !== undefined) {
      if (cancelPlan === 0) doCancel(rec, rec.abortedWhilePendingAt === undefined);
      else later(cancelPlan, () => doCancel(rec, false));
    }
  }

  // ---- The run ----
  log(
    `soak: ${options.tasks} tasks, up to ${options.maxMb} MiB, seed ${options.seed}, ${options.workers} workers, pid ${process.pid}`,
  );
  const progressEvery = Math.max(100, Math.floor(options.tasks / 10));
  for (let i = 0; i < options.tasks; i++) {
    while (live.size >= maxInFlight || (live.size > 0 && inFlightBytes > inFlightBudget)) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    if (rng() < 1 / killEvery) later(Math.floor(rng() * 60), killOne);
    submitOne();
    if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
    if ((i + 1) % progressEvery === 0) {
      log(
        `  ${i + 1} submitted, ${live.size} in flight, ${chaos.kills} kills, ${violationCount} violations, ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s, rss ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`,
      );
    }
  }

  // Every Future settles, within a deadline.
  const deadline = performance.now() + settleDeadlineMs;
  while (live.size > 0 && performance.now() < deadline) await pause(20);
  for (const timer of timers) clearTimeout(timer);
  timers.clear();
  const pendingAtDeadline = live.size;
  for (const rec of live) {
    violation(
      `#${rec.id} ${rec.label}: still pending ${settleDeadlineMs} ms after the last submission ` +
        `(${String(rec.future)}, running ${rec.future?.running()}, submitted ${((performance.now() - rec.submittedAt) / 1000).toFixed(1)} s ago)`,
    );
  }
  await pause(0); // done callbacks run on microtasks
  for (const rec of all) {
    if (rec.outcome !== undefined && rec.doneCallbacks !== 1)
      violation(`#${rec.id} ${rec.label}: its done callback ran ${rec.doneCallbacks} times`);
    if (rec.outcome !== undefined && rec.awaitSettles !== 1)
      violation(`#${rec.id} ${rec.label}: settled ${rec.awaitSettles} times through await`);
  }
  const settledCount = all.filter((rec) => rec.outcome !== undefined).length;
  if (settledCount + pendingAtDeadline !== options.tasks)
    violation(`${options.tasks} submitted, ${settledCount} settled and ${pendingAtDeadline} pending`);

  // Retained results must still hold their values; then they go. (In a plain function: a loop
  // variable of this async function would stay alive in its suspended frame, and its array with it.)
  const drainRing = () => {
    for (const entry of ring.splice(0)) {
      recheck(entry);
      releaseOrDrop(entry.arrays, entry.label);
    }
    ringBytes = 0;
  };
  drainRing();

  // Shutdown, within a deadline.
  let shutdownTimer: NodeJS.Timeout | undefined;
  const shutdownResult = await Promise.race([
    ex.shutdown().then(() => 'done'),
    new Promise((resolve) => {
      shutdownTimer = setTimeout(() => resolve('timeout'), 60_000);
    }),
  ]);
  clearTimeout(shutdownTimer);
  if (shutdownResult !== 'done') {
    violation('shutdown() did not finish within 60 s');
    await ex.shutdown({ wait: false, cancelFutures: true });
  }
  clearInterval(sampler);
  watchChildren();
  let children = childPids(true);
  for (let i = 0; i < 100 && children.length > 0; i++) {
    await pause(20);
    children = childPids(true);
  }
  if (children.length > 0) {
    violation(`worker processes left after shutdown: ${children.join(', ')}`);
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  // Drop everything this soak held; collect; idle segments go.
  all.length = 0;
  live.clear();
  const settleShm = performance.now() + 10_000;
  let ours = ourSegments();
  for (;;) {
    gc();
    gc();
    await pause(20);
    trimSharedMemory();
    ours = ourSegments();
    if (ours.length === 0 || performance.now() > settleShm) break;
  }
  const ourBytesEnd = segmentBytes(ours);
  if (ours.length > 0) {
    violation(
      `${ours.length} segments (${ourBytesEnd} bytes) of this process tree left in ${SHM_DIR}: ` +
        ours
          .slice(0, 10)
          .map((name) => `${name} ${describeSegment(name)}`)
          .join(', '),
    );
  }
  const strays = listSegmentNames(SHM_DIR).filter((name) => {
    if (isOurs(name)) return false;
    const [, pid, start] = name.split('.');
    const stat = procStat(Number(pid));
    return stat === undefined || stat[19] !== start;
  });

  gc();
  gc();
  await pause(50);
  const memory = process.memoryUsage();
  const rssGrowth = memory.rss - rssStart;
  if (rssGrowth > rssGrowthLimit)
    violation(
      `RSS grew by ${(rssGrowth / MiB).toFixed(0)} MiB (limit ${(rssGrowthLimit / MiB).toFixed(0)} MiB)`,
    );

  const summary: SoakSummary = {
    ok: violationCount === 0,
    options: {
      tasks: options.tasks,
      maxMb: options.maxMb,
      seed: options.seed,
      workers: options.workers,
      maxInFlight,
      killEvery,
      maxTasksPerChild: options.maxTasksPerChild ?? null,
      releasePassedResults: options.releasePassedResults === true,
    },
    durationMs: Math.round(performance.now() - t0),
    outcomes,
    byTask,
    chaos,
    results,
    bytes: { in: bytesIn, out: bytesOut, moved: bytesIn + bytesOut },
    maxInFlight: maxSeenInFlight,
    maxInFlightBytes: maxSeenInFlightBytes,
    workersSeen: workerPids.size,
    pendingAtDeadline,
    memory: {
      rssStart,
      rssPeak,
      rssEnd: memory.rss,
      rssGrowth,
      heapUsedStart,
      heapUsedEnd: memory.heapUsed,
      externalEnd: memory.external,
    },
    shm: {
      ourSegmentsEnd: ours.length,
      ourBytesEnd,
      ourSegmentsPeak,
      ourBytesPeak,
      devShmUsedStart,
      devShmUsedEnd: devShmUsed(),
      strayDeadOwnerSegments: strays.length,
    },
    childrenAfterShutdown: children,
    violations,
    violationCount,
  };
  return summary;
}

// ---- As a script ----

function main(): void {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string', default: '10000' },
      'max-mb': { type: 'string', default: '64' },
      seed: { type: 'string', default: '1' },
      workers: { type: 'string', default: '2' },
      'max-in-flight': { type: 'string', default: '64' },
      'kill-every': { type: 'string', default: '100' },
      'max-tasks-per-child': { type: 'string' },
      'release-passed-results': { type: 'boolean', default: true },
      'settle-deadline-ms': { type: 'string', default: '180000' },
      quiet: { type: 'boolean', default: false },
      trace: { type: 'string' },
    },
  });
  const number = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n <= 0) {
      console.error(`soak: --${name} must be a positive number, got ${String(values[name])}`);
      process.exit(2);
    }
    return n;
  };
  const options: SoakOptions = {
    tasks: Math.floor(number('tasks')),
    maxMb: number('max-mb'),
    seed: Math.floor(number('seed')),
    workers: Math.floor(number('workers')),
    maxInFlight: Math.floor(number('max-in-flight')),
    killEvery: number('kill-every'),
    settleDeadlineMs: number('settle-deadline-ms'),
  };
  if (values['release-passed-results']) options.releasePassedResults = true;
  if (values['max-tasks-per-child'] !== undefined)
    options.maxTasksPerChild = Math.floor(number('max-tasks-per-child'));
  if (!values.quiet) options.log = (line) => console.error(line);
  if (values.trace !== undefined) {
    const file = values.trace;
    writeFileSync(file, '');
    options.trace = (line) => appendFileSync(file, `${line}\n`);
  }
  runSoak(options).then(
    (summary) => {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      process.exitCode = summary.ok ? 0 : 1;
      // Nothing should keep this process alive now: no worker, no timer of shmex's.
      setTimeout(() => {
        console.error(
          `soak: the event loop is still alive 10 s after the summary: ${process.getActiveResourcesInfo().join(', ')}`,
        );
        process.exit(3);
      }, 10_000).unref();
    },
    (error: unknown) => {
      console.error('soak: crashed:', error);
      process.exit(2);
    },
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
