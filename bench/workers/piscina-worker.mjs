// piscina's worker file: the tasks of tasks.mjs, plus variants that hand
// their result back with Piscina.move() (transferred, not cloned).
import { move } from 'piscina';
import { addOne, kernel } from './tasks.mjs';

export { addOne, kernel, noop, sum } from './tasks.mjs';

export function addOneMove(x) {
  return move(addOne(x));
}

export function kernelMove(x) {
  return move(kernel(x));
}
