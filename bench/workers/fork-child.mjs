// The child of the plain child_process.fork peer: answers { id, name, args }
// with { id, result } (or { id, error }), running the tasks of tasks.mjs.
import { addOne, kernel, kernelSpin, noop, sum } from './tasks.mjs';

const tasks = { addOne, kernel, kernelSpin, noop, sum };

process.on('message', ({ id, name, args }) => {
  let reply;
  try {
    reply = { id, result: tasks[name](...args) };
  } catch (error) {
    reply = { id, error: String(error?.stack ?? error) };
  }
  process.send(reply);
});
process.on('disconnect', () => process.exit(0));
