// The entry point of a worker (a process, or a thread of a
// ThreadPoolExecutor): wires the channel to the parent to a WorkerRuntime
// (runtime.ts), made when the parent's first message, 'init', says where the
// segments go. Everything process-wide is set here and only here: the
// helpers' directory, the parent-death watch, the exit and
// fatal-error hooks.
import type { ToWorker } from '../pool/protocol.js';
import { segmentBook, setHelperDirectory } from '../shm/books.js';
import { serializeError } from '../transfer/remote-error.js';
import { channel } from './channel.js';
import { WorkerRuntime } from './runtime.js';
import { installSharedArrays } from './shared-arrays.js';
import { TaskLoader } from './task-loader.js';

let runtime: WorkerRuntime | undefined;

function init(message: ToWorker & { type: 'init' }): WorkerRuntime {
  const { config } = message;
  setHelperDirectory(config.shmDir);
  channel.watchParent(config.shmDir);
  const book = segmentBook(config.shmDir);
  if (config.sharedArrays === true) installSharedArrays(book); // before any task module loads
  const made = new WorkerRuntime(channel, new TaskLoader(), book, config);
  void made.start(message.initializer, message.initargs);
  return made;
}

channel.onMessage((message: ToWorker) => {
  if (message.type === 'exit') process.exit(0);
  else if (message.type === 'init') runtime ??= init(message);
  else runtime?.onMessage(message); // the parent sends 'init' first: nothing comes before it
});

// A task that calls process.exit ends this worker between tasks' outcomes: those gathered so far
// go out first. A process's channel writes each message whole before send() returns (a thread's
// port takes it at once), and it reaches the parent after this process is gone.
process.on('exit', () => runtime?.flush());

/**
 * An error no task caught (thrown in a timer, a rejection nobody handled):
 * the worker is in an unknown state, so it exits, as Node would, after
 * printing the error and telling the parent, which fails the task running
 * then with this error as the cause and starts another worker.
 */
function fatal(error: unknown): void {
  process.off('uncaughtException', fatal);
  process.off('unhandledRejection', fatal);
  console.error('shmex worker: an error no task caught; this worker exits:', error);
  runtime?.flush(); // the outcomes gathered so far go ahead of it
  const exit = () => process.exit(1);
  setTimeout(exit, 1000); // if the message cannot be written in time
  channel.send({ type: 'fatal', error: serializeError(error) }, exit);
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
