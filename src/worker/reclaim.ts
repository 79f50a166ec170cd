// A worker's side of reclaiming space in a full directory (see
// pool/reclaim.ts): it asks for room when a result does not fit, and gives
// back its idle segments when another worker asks.
import { segmentBooks } from '../shm/segment-book.js';
import { channel } from './channel.js';

const waiting = new Map<number, () => void>();
let nextId = 0;

/**
 * Resolves once the parent and the other workers have given back their idle
 * segments (or at once, in a thread, which makes no segments, or when the
 * parent is gone).
 */
export function askForRoom(): Promise<void> {
  if (!channel.makesSegments) return Promise.resolve();
  const id = ++nextId;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    channel.send({ type: 'reclaim', id }, (error) => {
      if (error === null) return;
      waiting.delete(id);
      resolve();
    });
  });
}

/** The parent's answer to askForRoom(). */
export function roomMade(id: number): void {
  waiting.get(id)?.();
  waiting.delete(id);
}

/** Another worker is out of space: this one's idle segments go now, then the parent hears so. */
export function giveBackIdle(id: number): void {
  for (const book of segmentBooks()) book.pool.reclaim();
  channel.send({ type: 'reclaimed', id });
}
