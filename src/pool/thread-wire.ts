// How 'run' and 'results' messages cross a worker thread's port: as one flat
// array each instead of the objects of protocol.ts. A port copies a message
// by structured clone, which costs per object and per property: a tiny
// task's 'run' took 4.5 µs to post and receive, its 'results' 2.4 µs; flat,
// 2.4 and 0.7 µs (bench/scripts/thread-latency.mjs measures the round trip).
// A task's TaskRef is sent whole the first time a worker sees it, with a
// number both sides keep for it; after that, only the number. Every other
// message crosses as it is; a flat message is told apart by being an array.
//
//   run:     [RUN,     ...per task: id, ref, args kind, args value, leases, chunk, giveBack]
//   results: [RESULTS, ...per outcome: id, ok, result kind, result value or error, leases]
//
// ref: a number known to the worker, or [number, TaskRef] the first time.
// kind: 0 for an Encoded `{ raw }` (the value follows), 1 for encoded bytes.
// leases: 0 when there are none (most tiny tasks), else the array.
import type { Encoded } from '../transfer/encode.js';
import type { SerializedError } from '../transfer/remote-error.js';
import type { FromWorker, TaskMessage, TaskOutcome, TaskRef, ToWorker } from './protocol.js';

const RUN = 0;
const RESULTS = 1;
const TASK_FIELDS = 7;
const OUTCOME_FIELDS = 5;
const RAW = 0;
const BYTES = 1;

/** A flat message, as it crosses the port. */
export type FlatMessage = unknown[];

function putEncoded(out: unknown[], data: Encoded): void {
  if (data instanceof Uint8Array) out.push(BYTES, data);
  else out.push(RAW, data.raw);
}

function takeEncoded(kind: unknown, value: unknown): Encoded {
  return kind === BYTES ? (value as Uint8Array) : { raw: value };
}

function takeLeases(value: unknown): string[] {
  return value === 0 ? [] : (value as string[]);
}

/** The parent's side: flattens 'run' messages to one worker thread, numbering its TaskRefs. */
export class RunWriter {
  /** Numbers given, by module URL or source id, then by name: no key string built per task. */
  readonly #refs = new Map<string | number, Map<string, number>>();
  #count = 0;
  /** The refs the last write numbered: if its message is never posted, undo() forgets them. */
  readonly #numbered: [Map<string, number>, string][] = [];

  /** The message as it goes to the port: flat if it is a 'run', else as it is. */
  write(message: ToWorker): ToWorker | FlatMessage {
    this.#numbered.length = 0;
    if (message.type !== 'run') return message;
    const out: unknown[] = [RUN];
    for (const task of message.tasks) {
      out.push(task.id, this.#ref(task.task));
      putEncoded(out, task.args);
      out.push(task.leases.length === 0 ? 0 : task.leases, task.chunk, task.giveBack);
    }
    return out;
  }

  #ref(ref: TaskRef): number | [number, TaskRef] {
    // A source's id names its text; the name may differ between functions of the same text.
    const first = ref.kind === 'source' ? ref.id : ref.url;
    let byName = this.#refs.get(first);
    if (byName === undefined) {
      byName = new Map();
      this.#refs.set(first, byName);
    }
    const known = byName.get(ref.name);
    if (known !== undefined) return known;
    const number = this.#count++;
    byName.set(ref.name, number);
    this.#numbered.push([byName, ref.name]);
    return [number, ref];
  }

  /** The message last written was not posted: the worker never learnt the numbers it gave. */
  undo(): void {
    for (const [byName, name] of this.#numbered) byName.delete(name);
    this.#count -= this.#numbered.length;
    this.#numbered.length = 0;
  }
}

/** The worker thread's side: reads what RunWriter wrote. */
export class RunReader {
  readonly #refs: TaskRef[] = [];

  /** The message as protocol.ts has it. */
  read(message: ToWorker | FlatMessage): ToWorker {
    if (!Array.isArray(message)) return message;
    if (message[0] !== RUN) throw new RangeError(`shmex thread wire: unknown message ${String(message[0])}`);
    const tasks: TaskMessage[] = [];
    for (let at = 1; at + TASK_FIELDS <= message.length; at += TASK_FIELDS) {
      tasks.push({
        id: message[at] as number,
        task: this.#ref(message[at + 1]),
        args: takeEncoded(message[at + 2], message[at + 3]),
        leases: takeLeases(message[at + 4]),
        chunk: message[at + 5] as boolean,
        giveBack: message[at + 6] as TaskMessage['giveBack'],
      });
    }
    return { type: 'run', tasks };
  }

  #ref(value: unknown): TaskRef {
    if (typeof value === 'number') {
      const ref = this.#refs[value];
      if (ref === undefined) throw new RangeError(`shmex thread wire: unknown task reference ${value}`);
      return ref;
    }
    const [number, ref] = value as [number, TaskRef];
    this.#refs[number] = ref;
    return ref;
  }
}

/** The worker thread's side: a 'results' message flat, others as they are. */
export function writeFromWorker(message: FromWorker): FromWorker | FlatMessage {
  if (message.type !== 'results') return message;
  const out: unknown[] = [RESULTS];
  for (const outcome of message.outcomes) {
    out.push(outcome.id, outcome.ok);
    if (outcome.ok) {
      putEncoded(out, outcome.result);
      out.push(outcome.leases.length === 0 ? 0 : outcome.leases);
    } else out.push(RAW, outcome.error, 0);
  }
  return out;
}

/** The parent's side: reads what writeFromWorker wrote. */
export function readFromWorker(message: FromWorker | FlatMessage): FromWorker {
  if (!Array.isArray(message)) return message;
  if (message[0] !== RESULTS)
    throw new RangeError(`shmex thread wire: unknown message ${String(message[0])}`);
  const outcomes: TaskOutcome[] = [];
  for (let at = 1; at + OUTCOME_FIELDS <= message.length; at += OUTCOME_FIELDS) {
    const id = message[at] as number;
    if (message[at + 1] === true) {
      const result = takeEncoded(message[at + 2], message[at + 3]);
      outcomes.push({ id, ok: true, result, leases: takeLeases(message[at + 4]) });
    } else outcomes.push({ id, ok: false, error: message[at + 3] as SerializedError });
  }
  return { type: 'results', outcomes };
}
