// How many pending tasks of a ClusterExecutor refer to each blob it
// uploaded: a blob shared by several tasks of one map is deleted once the
// last of them has ended.
import type { BlobRef } from './value-codec.js';

export class BlobUsers {
  readonly #users = new Map<BlobRef, number>();

  /** One more task refers to each of `blobs`. */
  retain(blobs: readonly BlobRef[]): void {
    for (const blob of blobs) this.#users.set(blob, (this.#users.get(blob) ?? 0) + 1);
  }

  /** A task that referred to `blobs` ended; returns those no task refers to now (marked gone). */
  release(blobs: readonly BlobRef[]): BlobRef[] {
    const gone: BlobRef[] = [];
    for (const blob of blobs) {
      const users = (this.#users.get(blob) ?? 1) - 1;
      if (users > 0) {
        this.#users.set(blob, users);
        continue;
      }
      this.#users.delete(blob);
      blob.gone = true;
      gone.push(blob);
    }
    return gone;
  }
}
