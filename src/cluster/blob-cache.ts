// A machine keeps arrays it downloaded for a while: a put() value or an
// array shared by the tasks of one map is downloaded once per machine and
// then feeds every task (and core) through shared memory.
import type { BlobCache } from './value-codec.js';

interface Entry {
  value: Promise<unknown>;
  bytes: number;
  lastUse: number;
}

export class MachineBlobCache implements BlobCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxBytes: number;
  readonly #idleMs: number;
  #bytes = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(maxBytes: number, idleMs: number) {
    this.#maxBytes = maxBytes;
    this.#idleMs = idleMs;
    this.#timer = setInterval(() => this.#trim(Date.now() - this.#idleMs), Math.max(100, idleMs / 2));
    this.#timer.unref();
  }

  get(key: string): Promise<unknown> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    entry.lastUse = Date.now();
    return entry.value;
  }

  set(key: string, value: Promise<unknown>, bytes: number): void {
    const entry = { value, bytes, lastUse: Date.now() };
    this.#entries.set(key, entry);
    this.#bytes += bytes;
    // A failed download is not kept: the next task tries again (and fails with its own error).
    value.catch(() => {
      if (this.#entries.get(key) === entry) this.#drop(key, entry);
    });
    if (this.#bytes > this.#maxBytes) this.#trim(Number.NEGATIVE_INFINITY, this.#maxBytes);
  }

  #drop(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  /** Drops entries unused since `before`, or (oldest first) until at most `keepBytes` remain. */
  #trim(before: number, keepBytes = Number.POSITIVE_INFINITY): void {
    for (const [key, entry] of this.#entries) {
      if (entry.lastUse < before || this.#bytes > keepBytes) this.#drop(key, entry);
    }
  }

  clear(): void {
    clearInterval(this.#timer);
    this.#entries.clear();
    this.#bytes = 0;
  }
}
