// The worker's runtime driven in this process through a fake channel: tasks
// in, outcomes out, several outcomes to a message, errors as outcomes, the
// initializer, a task that waits until earlier results are written, frees
// sent ahead of outcomes, and a turn of the event loop between runs of tasks
// and before the idle wait (a thread's, after its first: at least every
// THREAD_IDLE_WAIT_MS).
// No child process, no thread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FromWorker, TaskMessage, TaskOutcome, TaskRef, ToWorker } from '../dist/pool/protocol.js';
import { SegmentBook } from '../dist/shm/segment-book.js';
import { SegmentStore } from '../dist/shm/segment-store.js';
import { decode } from '../dist/transfer/decode.js';
import { type Encoded, encode } from '../dist/transfer/encode.js';
import type { Channel } from '../dist/worker/channel.js';
import { type RuntimeMessage, WorkerRuntime } from '../dist/worker/runtime.js';
import type { TaskFunction } from '../dist/worker/task-loader.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const book = new SegmentBook(new SegmentStore('/dev/shm'));
const parent = { pid: process.pid, sendControl: () => {} };

/** A channel that records what the worker sends; `hold()` keeps sends unwritten until `release()`. */
class FakeChannel implements Channel {
  readonly structuredClone = false;
  readonly parentPid = process.pid;
  readonly sent: FromWorker[] = [];
  #held: (() => void)[] | undefined;
  #waiters: (() => void)[] = [];

  send(message: FromWorker, done?: (error: Error | null) => void): void {
    this.sent.push(structuredClone(message));
    for (const wake of this.#waiters.splice(0)) wake();
    const written = () => done?.(null);
    if (this.#held === undefined) queueMicrotask(written);
    else this.#held.push(written);
  }
  onMessage(_handler: (message: ToWorker) => void): void {}
  watchParent(): void {}

  hold(): void {
    this.#held = [];
  }
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const written of held) written();
  }

  /** Resolves once `count` messages of `type` have been sent. */
  async until(type: FromWorker['type'], count = 1): Promise<FromWorker[]> {
    for (;;) {
      const found = this.sent.filter((m) => m.type === type);
      if (found.length >= count) return found;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  outcomes(): TaskOutcome[] {
    return this.sent.flatMap((m) => (m.type === 'results' ? m.outcomes : []));
  }
}

/** Tasks by name, resolved without importing anything. */
function loader(tasks: Record<string, TaskFunction>) {
  return {
    resolve: async (ref: TaskRef): Promise<TaskFunction> => {
      const fn = tasks[ref.name];
      if (fn === undefined) throw new Error(`no task ${ref.name}`);
      return fn;
    },
  };
}

const config = { shmDir: '/dev/shm', threshold: Infinity, receipts: '' };

function args(values: unknown[]): Encoded {
  return encode(values, { book, threshold: Infinity, inlineOnly: true, outerLevels: 1 }, 'args').data;
}

function run(id: number, name: string, values: unknown[]): TaskMessage {
  return { id, task: { kind: 'module', url: 'test:', name }, args: args(values), leases: [], chunk: false };
}

function resultOf(outcome: TaskOutcome | undefined): unknown {
  assert.ok(outcome?.ok, `expected a result, got ${JSON.stringify(outcome)}`);
  return decode(outcome.result, book, parent, outcome.leases);
}

/** The runtime's clock: only 'slow' tasks take time. */
const clock = { ms: 0 };

const tasks = {
  add: (a: unknown, b: unknown) => (a as number) + (b as number),
  slow: async (x: unknown) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    clock.ms += 20;
    return x;
  },
  fail: () => {
    throw new TypeError('bad input');
  },
  undefinedName: () => {
    throw new ReferenceError('helper is not defined');
  },
};

function start(channel = new FakeChannel(), tasksByName: Record<string, TaskFunction> = tasks) {
  const runtime = new WorkerRuntime(channel, loader(tasksByName), book, config, () => clock.ms);
  const send = (message: RuntimeMessage) => runtime.onMessage(message);
  return { channel, runtime, send };
}

test('start() without an initializer tells the parent it is ready', async () => {
  const { channel, runtime } = start();
  await runtime.start();
  assert.deepEqual(channel.sent, [{ type: 'ready' }]);
});

test('the initializer runs with its decoded arguments before ready; one that throws is init-failed', async () => {
  const seen: unknown[] = [];
  const { channel, runtime } = start(undefined, {
    init: (...values: unknown[]) => {
      seen.push(...values);
    },
  });
  await runtime.start({ kind: 'module', url: 'test:', name: 'init' }, args([1, 'two']));
  assert.deepEqual(seen, [1, 'two']);
  assert.deepEqual(channel.sent, [{ type: 'ready' }]);

  const failing = start(undefined, {
    init: () => {
      throw new RangeError('no config');
    },
  });
  await failing.runtime.start({ kind: 'module', url: 'test:', name: 'init' });
  const [message] = failing.channel.sent;
  assert.equal(message?.type, 'init-failed');
  assert.equal(message.type === 'init-failed' && message.error.name, 'RangeError');
  assert.equal(message.type === 'init-failed' && message.error.message, 'no config');
});

test('tasks in, outcomes out: quick tasks of one run message go back in one results message', async () => {
  const { channel, send } = start();
  send({ type: 'run', tasks: [run(1, 'add', [1, 2]), run(2, 'add', [3, 4]), run(3, 'add', [5, 6])] });
  await channel.until('results');
  assert.equal(channel.sent.length, 1, 'one message for three quick tasks');
  const outcomes = channel.outcomes();
  assert.deepEqual(
    outcomes.map((o) => o.id),
    [1, 2, 3],
  );
  assert.deepEqual(outcomes.map(resultOf), [3, 7, 11]);
});

test('a task slower than QUICK_TASK_MS sends its outcome at once, before the next task runs', async () => {
  const { channel, send } = start();
  send({ type: 'run', tasks: [run(1, 'slow', ['a']), run(2, 'add', [1, 1]), run(3, 'slow', ['b'])] });
  await channel.until('results', 2);
  // The slow task's outcome goes alone; the quick one waits for the next task's.
  const first = channel.sent[0];
  assert.ok(first?.type === 'results');
  assert.deepEqual(
    first.outcomes.map((o) => o.id),
    [1],
  );
  const second = channel.sent[1];
  assert.ok(second?.type === 'results');
  assert.deepEqual(
    second.outcomes.map((o) => o.id),
    [2, 3],
  );
  assert.deepEqual(channel.outcomes().map(resultOf), ['a', 2, 'b']);
});

test('a task run with nothing queued behind it sends its outcome alone, even if tasks came while it ran', async () => {
  let go!: () => void;
  const gate = new Promise<void>((resolve) => {
    go = resolve;
  });
  const { channel, send } = start(undefined, {
    ...tasks,
    // Quick by the runtime's clock (it does not advance), and finished only once the next run has come.
    gated: async (x: unknown) => {
      await gate;
      return x;
    },
  });
  send({ type: 'run', tasks: [run(1, 'gated', ['alone'])] });
  send({ type: 'run', tasks: [run(2, 'add', [1, 1])] });
  go();
  await channel.until('results', 2);
  const ids = channel.sent.map((m) => (m.type === 'results' ? m.outcomes.map((o) => o.id) : []));
  assert.deepEqual(ids, [[1], [2]]);
  assert.deepEqual(channel.outcomes().map(resultOf), ['alone', 2]);
});

test('a task that throws is an error outcome naming the error; the next task runs', async () => {
  const { channel, send } = start();
  send({ type: 'run', tasks: [run(1, 'fail', []), run(2, 'add', [2, 2])] });
  await channel.until('results');
  const [failed, next] = channel.outcomes();
  assert.ok(failed !== undefined && !failed.ok);
  assert.equal(failed.id, 1);
  assert.equal(failed.error.name, 'TypeError');
  assert.equal(failed.error.message, 'bad input');
  assert.equal(resultOf(next), 4);
});

test('a task that cannot be resolved is an error outcome', async () => {
  const { channel, send } = start();
  send({ type: 'run', tasks: [run(1, 'missing', [])] });
  await channel.until('results');
  const [outcome] = channel.outcomes();
  assert.ok(outcome !== undefined && !outcome.ok);
  assert.equal(outcome.error.message, 'no task missing');
});

test('a function task that reads a variable it does not define gets a TaskClosureError', async () => {
  const { channel, send } = start();
  const message = run(1, 'undefinedName', []);
  send({ type: 'run', tasks: [{ ...message, task: { kind: 'source', id: 1, name: 'undefinedName' } }] });
  await channel.until('results');
  const [outcome] = channel.outcomes();
  assert.ok(outcome !== undefined && !outcome.ok);
  assert.equal(outcome.error.name, 'TaskClosureError');
  assert.match(outcome.error.message, /uses 'helper', which does not exist in the worker/);
});

test('a chunk runs the task once per argument list and returns the list of results', async () => {
  const { channel, send } = start();
  const chunk = encode(
    [
      [1, 2],
      [3, 4],
    ],
    { book, threshold: Infinity, inlineOnly: true, outerLevels: 2 },
    'chunk',
  ).data;
  send({ type: 'run', tasks: [{ ...run(1, 'add', []), args: chunk, chunk: true }] });
  await channel.until('results');
  assert.deepEqual(channel.outcomes().map(resultOf), [[3, 7]]);
});

test('a task starts only once the results sent before it are written to the channel', async () => {
  const started: number[] = [];
  const { channel, send } = start(undefined, {
    note: async (id: unknown) => {
      started.push(id as number);
      clock.ms += 20; // slow: its outcome goes at once
      return id;
    },
  });
  channel.hold();
  send({ type: 'run', tasks: [run(1, 'note', [1]), run(2, 'note', [2])] });
  await channel.until('results');
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(started, [1], 'task 2 waits while the outcome of task 1 is unwritten');
  channel.release();
  await channel.until('results', 2);
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(channel.outcomes().map(resultOf), [1, 2]);
});

test('run messages that arrive while tasks run join the same queue, in order', async () => {
  const { channel, send } = start();
  send({ type: 'run', tasks: [run(1, 'slow', [1])] });
  send({ type: 'run', tasks: [run(2, 'add', [1, 2])] });
  await channel.until('results', 2);
  assert.deepEqual(
    channel.outcomes().map((o) => o.id),
    [1, 2],
  );
});

test('frees queued while a task ran go to the parent before its outcome', async () => {
  // A segment of another process this worker owes a hold on (as for an argument it mapped).
  const borrowed = `shmex.999999.1.${'ab'.repeat(12)}`;
  book.owe([borrowed]);
  const { channel, send } = start(undefined, {
    drop: () => {
      book.free([borrowed]); // queued for a later turn, as a collected array's free is
      return 1;
    },
  });
  send({ type: 'run', tasks: [run(1, 'drop', [])] });
  await channel.until('results');
  assert.deepEqual(
    channel.sent.map((m) => m.type),
    ['segments', 'results'],
    'the parent has the segment back when the outcome makes it send the next task',
  );
  const [control] = channel.sent;
  assert.deepEqual(control?.type === 'segments' && control.control, { type: 'free', names: [borrowed] });
});

/** A channel that can wait for the next message (a thread's); records what had run when it was asked to. */
class IdleChannel extends FakeChannel {
  readonly idled: boolean[] = [];
  ran = false;
  #onIdle: (() => void) | undefined;

  idle(): void {
    this.idled.push(this.ran);
    this.#onIdle?.();
  }

  whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.#onIdle = resolve;
    });
  }
}

test('the idle wait comes after a turn of the event loop, so what needs one runs between tasks', async () => {
  const channel = new IdleChannel();
  const { send } = start(channel, {
    later: () => {
      // Like the free of an argument collected after its task, or a collection's timer.
      setImmediate(() => {
        channel.ran = true;
      });
      return 1;
    },
  });
  const idle = channel.whenIdle();
  send({ type: 'run', tasks: [run(1, 'later', [])] });
  await channel.until('results');
  await idle;
  assert.deepEqual(channel.idled, [true], 'once, after the immediate the task queued');
});

/** A channel that hands the worker its next message in the turn where the last results went (a thread's port does). */
class EagerChannel extends FakeChannel {
  next: (() => void) | undefined;

  override send(message: FromWorker, done?: (error: Error | null) => void): void {
    super.send(message, done);
    const next = this.next;
    this.next = undefined;
    if (next !== undefined) queueMicrotask(next);
  }
}

/** Tasks 'later' (queues an immediate) and 'check' (whether that immediate has run yet). */
function immediateProbe() {
  let ran = false;
  return {
    later: () => {
      setImmediate(() => {
        ran = true;
      });
      return 1;
    },
    check: () => ran,
  };
}

test('a run of tasks that comes in the turn where the last one ended starts on the next turn', async () => {
  const channel = new EagerChannel();
  const { send } = start(channel, immediateProbe());
  channel.next = () => send({ type: 'run', tasks: [run(2, 'check', [])] });
  send({ type: 'run', tasks: [run(1, 'later', [])] });
  await channel.until('results', 2);
  assert.deepEqual(channel.outcomes().map(resultOf), [1, true], 'the immediate ran between the two');
});

/** A thread's channel whose parent answers at once: each idle wait reads the next message queued here. */
class AnsweringChannel extends IdleChannel {
  readonly next: RuntimeMessage[] = [];
  deliver: ((message: RuntimeMessage) => void) | undefined;

  override idle(): void {
    super.idle();
    const message = this.next.shift();
    if (message !== undefined) this.deliver?.(message);
  }
}

test('a thread waits again at once after its tasks, with a turn of the event loop at least every THREAD_IDLE_WAIT_MS', async () => {
  const channel = new AnsweringChannel();
  const { send } = start(channel, {
    noop: () => 0,
    later: () => {
      setImmediate(() => {
        channel.ran = true;
      });
      return 1;
    },
    // A task that takes a millisecond of the runtime's clock.
    tick: () => {
      clock.ms += 1;
      return 2;
    },
  });
  channel.deliver = send;
  channel.next.push(
    { type: 'run', tasks: [run(2, 'later', [])] },
    { type: 'run', tasks: [run(3, 'tick', [])] },
    { type: 'run', tasks: [run(4, 'tick', [])] },
  );
  const waits = new Promise<void>((resolve) => {
    const idle = channel.idle.bind(channel);
    channel.idle = () => {
      idle();
      if (channel.idled.length === 4) resolve();
    };
  });
  send({ type: 'run', tasks: [run(1, 'noop', [])] });
  await waits;
  // 1: after a turn (the first wait); 2 and 3: at once, within 2 ms of it, so the immediate 'later'
  // queued has not run; 4: 2 ms after that turn, after another, in which it ran.
  assert.deepEqual(channel.idled, [false, false, false, true]);
  assert.deepEqual(channel.outcomes().map(resultOf), [0, 1, 2, 2]);
});

/** An EagerChannel that counts its turns, as a process's does (its pipe's reads). */
class CountingChannel extends EagerChannel {
  turn = 0;
}

test('a channel that counts its turns: a run in the same turn waits for the next one, a run in a new turn starts at once', async () => {
  for (const newTurn of [false, true]) {
    const channel = new CountingChannel();
    const { send } = start(channel, immediateProbe());
    channel.next = () => {
      if (newTurn) channel.turn++;
      send({ type: 'run', tasks: [run(2, 'check', [])] });
    };
    send({ type: 'run', tasks: [run(1, 'later', [])] });
    await channel.until('results', 2);
    assert.deepEqual(channel.outcomes().map(resultOf), [1, !newTurn], `new turn: ${newTurn}`);
  }
});
