// The entry point of a worker process: receives tasks from the parent, runs
// them, and sends back results (arrays through segments it creates) or errors.
// Exits when the parent goes away.
import { TaskClosureError } from '../errors.js';
import type { FromWorker, TaskRef, ToWorker, WorkerConfig } from '../pool/protocol.js';
import { SegmentStore } from '../shm/segment-store.js';
import { decode } from '../transfer/decode.js';
import { encode } from '../transfer/encode.js';
import { serializeError } from '../transfer/remote-error.js';
import { TaskLoader } from './task-loader.js';

const loader = new TaskLoader();
let config: WorkerConfig = { shmDir: '/dev/shm', threshold: 0 };
let store = new SegmentStore(config.shmDir);

function send(message: FromWorker, onLost?: () => void): void {
  if (!process.connected) {
    onLost?.();
    return;
  }
  process.send!(message, undefined, undefined, (error) => {
    if (error) onLost?.();
  });
}

/** A function task that reads a variable it does not define gets an error that says why. */
function explain(error: unknown, task: TaskRef): unknown {
  if (task.kind !== 'source' || !(error instanceof ReferenceError)) return error;
  const match = /^(\S+) is not defined$/.exec(error.message);
  if (match === null) return error;
  return new TaskClosureError(
    `task ${task.name || '<anonymous>'} uses '${match[1]}', which does not exist in the worker: a function task is sent as ` +
      'its source text, so it cannot see variables or imports from outside itself. Pass the value as an argument, ' +
      'or export the function from a module and run it with executor.module(url).',
    { cause: error },
  );
}

async function call(task: TaskRef, args: Uint8Array, chunk: boolean): Promise<unknown> {
  const fn = await loader.resolve(task);
  const decoded = decode(args, store) as unknown[];
  if (!chunk) return await fn(...decoded);
  const results: unknown[] = [];
  for (const one of decoded as unknown[][]) results.push(await fn(...one));
  return results;
}

async function run(message: ToWorker & { type: 'run' }): Promise<void> {
  send({ type: 'started', id: message.id });
  try {
    const result = await call(message.task, message.args, message.chunk);
    const payload = encode(result, { store, threshold: config.threshold }, 'result');
    send({ type: 'done', id: message.id, result: payload.bytes, segments: payload.segments }, () =>
      store.remove(payload.segments),
    );
  } catch (error) {
    send({ type: 'failed', id: message.id, error: serializeError(explain(error, message.task)) });
  }
}

async function init(message: ToWorker & { type: 'init' }): Promise<void> {
  config = message.config;
  store = new SegmentStore(config.shmDir);
  try {
    if (message.initializer !== undefined) {
      const fn = await loader.resolve(message.initializer);
      const args = message.initargs === undefined ? [] : (decode(message.initargs, store) as unknown[]);
      await fn(...args);
    }
    send({ type: 'ready' });
  } catch (error) {
    send({ type: 'init-failed', error: serializeError(explain(error, message.initializer!)) });
  }
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'run') void run(message);
  else if (message.type === 'init') void init(message);
  else if (message.type === 'exit') process.exit(0);
});

// The parent is gone (exited, killed): nobody will read our results.
process.on('disconnect', () => process.exit(0));
