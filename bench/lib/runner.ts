// Building Runners (see measure.ts) from a pool and a call.
import type { PeerPool } from '../peers/types.js';
import type { Runner } from './measure.js';

/** A Runner over a pool made when the runner is opened (so a cold measurement includes making it). */
export function poolRunner<P extends Pick<PeerPool, 'warm' | 'close'>, R>(
  make: () => P,
  call: (pool: P) => Promise<R>,
  check: (result: R) => string | undefined,
): Runner<R> {
  const pool = make();
  return {
    warm: () => pool.warm(),
    call: () => call(pool),
    check,
    close: () => pool.close(),
  };
}

/** A Runner that calls a function in this process (no pool). */
export function inProcessRunner<R>(call: () => R, check: (result: R) => string | undefined): Runner<R> {
  return {
    warm: async () => {},
    call: async () => call(),
    check,
    close: async () => {},
  };
}
