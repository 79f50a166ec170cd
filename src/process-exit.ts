// Whether this process is exiting. Once its 'exit' event has begun no task can
// run (the event loop is over, and shmex's own 'exit' listeners stop the
// workers and remove the segments), so the executors refuse new work then
// instead of returning a Future that never settles (CPython refuses with
// "cannot schedule new futures after interpreter shutdown").

let exiting = false;
// Prepended, so it runs before the 'exit' listeners the program added earlier.
process.prependListener('exit', () => {
  exiting = true;
});

export function processExiting(): boolean {
  // Node sets process._exiting before it emits 'exit': this also covers a listener
  // prepended after this module was loaded, which runs before the one above.
  return exiting || (process as { _exiting?: boolean })._exiting === true;
}
