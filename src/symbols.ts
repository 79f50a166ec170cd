// Symbols of shmex's internal protocol between its own modules, kept off the
// public API (src/index.ts does not export them).

/** future[kObserve](): marks a Future observed without attaching anything (wait, asCompleted, map). */
export const kObserve = Symbol('shmex.observe');
/** future[kWhenDone](callback): a done-callback of shmex itself, which does not count as observing. */
export const kWhenDone = Symbol('shmex.whenDone');
/** future[kForgetDone](callback): removes a done-callback not yet called (a waiter letting go of its Futures). */
export const kForgetDone = Symbol('shmex.forgetDone');
