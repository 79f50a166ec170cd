// A task of bench/scripts/strips-timeline.mjs: bench (g)'s stripBlur, with
// the times (ms since the epoch, as performance.timeOrigin + now()) it
// started and ended in the worker, and the worker's pid.
import { stripBlur } from './tasks.mjs';

export function noop() {
  return 0;
}

export function stripBlurTimed(rgba, width, haloTop, rows) {
  const started = performance.timeOrigin + performance.now();
  const out = stripBlur(rgba, width, haloTop, rows);
  return { out, started, ended: performance.timeOrigin + performance.now(), pid: process.pid };
}
