// workerpool's worker script (process mode): registers the tasks of tasks.mjs.
import workerpool from 'workerpool';
import { addOne, kernel, noop, sum } from './tasks.mjs';

workerpool.worker({ addOne, kernel, noop, sum });
