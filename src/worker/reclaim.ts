// A worker's side of reclaiming space in a full directory (see
// pool/reclaim.ts): it asks for room when a result does not fit, and gives
// back its idle segments when another worker asks.
//
// ENOSPC is met at two levels, each with what only it can give back:
// - SegmentPool.acquire (any process, synchronous): this process's own idle
//   segments of other sizes go, and the creation is tried once more;
// - makeRoom() here (a worker whose result still does not fit): the garbage
//   of earlier tasks is collected (its segments become idle) and every other
//   process gives back its idle segments; then the runtime encodes the
//   result once more (WorkerRuntime, in runtime.ts).

import { segmentBooks } from '../shm/books.js';
import { collectGarbage } from '../shm/collect.js';
import type { Channel } from './channel.js';

export class RoomRequests {
  readonly #channel: Channel;
  readonly #waiting = new Map<number, () => void>();
  #nextId = 0;

  constructor(channel: Channel) {
    this.#channel = channel;
  }

  /**
   * Gives back what this process and the others hold idle, then resolves:
   * the space may be held by arrays of earlier tasks that only garbage
   * collection gives back, or by idle segments of the other processes.
   */
  async makeRoom(): Promise<void> {
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve)); // finalizers run, frees go out
    await this.#askForRoom();
  }

  /**
   * Resolves once the parent and the other workers have given back their idle
   * segments (or at once, when the parent is gone).
   */
  #askForRoom(): Promise<void> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#channel.send({ type: 'reclaim', id }, (error) => {
        if (error === null) return;
        this.#waiting.delete(id);
        resolve();
      });
    });
  }

  /** The parent's answer to a 'reclaim' of this worker. */
  roomMade(id: number): void {
    this.#waiting.get(id)?.();
    this.#waiting.delete(id);
  }

  /** Another worker is out of space: this one's idle segments go now, then the parent hears so. */
  giveBackIdle(id: number): void {
    for (const book of segmentBooks()) book.pool.reclaim();
    this.#channel.send({ type: 'reclaimed', id });
  }
}
