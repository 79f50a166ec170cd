// A worker that cannot make a segment because the directory is full
// (ENOSPC) has given back its own idle segments already; idle segments of
// the other processes of the executor may be what fills it. It asks the
// parent ('reclaim'), which gives back its own, asks every other worker to
// do the same and, once they have answered (or after RECLAIM_WAIT_MS: a
// worker in synchronous code answers only when its task ends), answers the
// worker ('reclaimed'), which tries once more.
//
//   worker A               parent                       workers B, C
//   ENOSPC --reclaim-->    pool.reclaim()  --reclaim--> pool.reclaim()
//          <--reclaimed--  all answered    <--reclaimed--
//   retries once
import type { SegmentBook } from '../shm/segment-book.js';
import type { PoolWorker } from './pool-worker.js';

/** How long the parent waits for the other workers before it lets the asking worker try again. */
const RECLAIM_WAIT_MS = 1000;

interface Round {
  waitingFor: Set<PoolWorker>;
  finish: () => void;
}

export class SpaceReclaim {
  readonly #book: SegmentBook;
  readonly #rounds = new Map<number, Round>();
  #nextId = 0;

  constructor(book: SegmentBook) {
    this.#book = book;
  }

  /** `asker` is out of space (its request `id`); `workers`: every worker of the pool. */
  request(asker: PoolWorker, id: number, workers: Iterable<PoolWorker>): void {
    this.#book.pool.reclaim();
    // A worker still starting has no idle segments yet.
    const others = [...workers].filter(
      (w) => w !== asker && !w.exited && (w.state === 'idle' || w.state === 'busy' || w.state === 'exiting'),
    );
    const roundId = ++this.#nextId;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.#rounds.delete(roundId);
      asker.send({ type: 'reclaimed', id });
    };
    if (others.length === 0) {
      finish();
      return;
    }
    this.#rounds.set(roundId, { waitingFor: new Set(others), finish });
    timer = setTimeout(finish, RECLAIM_WAIT_MS);
    for (const worker of others) worker.send({ type: 'reclaim', id: roundId });
  }

  /** `worker` has given back its idle segments for round `id`. */
  answered(worker: PoolWorker, id: number): void {
    const round = this.#rounds.get(id);
    if (round === undefined) return;
    round.waitingFor.delete(worker);
    if (round.waitingFor.size === 0) round.finish();
  }

  /** A worker died: no round waits for it. */
  workerGone(worker: PoolWorker): void {
    for (const round of [...this.#rounds.values()]) {
      if (round.waitingFor.delete(worker) && round.waitingFor.size === 0) round.finish();
    }
  }
}
