// Sends this process's holds and frees to the peers that own the segments.
// A hold goes out at once, after the frees queued before it: it must reach
// the owner before any free that follows it. Frees are batched per peer and
// sent on a later turn of the event loop (those of release() before the
// current turn ends). Which peer a name goes to is the ledger's to say.
import type { SegmentControl } from './segment-control.js';

export interface ControlSink {
  sendControl(message: SegmentControl): void;
}

export class HoldOutbox {
  readonly #frees = new Map<ControlSink, string[]>();
  #flushing = false;
  #flushSoon = false;

  /** Sends a hold on `name` now; `task`: the task whose result it is taken for (in a worker). */
  hold(peer: ControlSink, name: string, task: number | undefined): void {
    this.flush();
    peer.sendControl(
      task === undefined ? { type: 'hold', names: [name] } : { type: 'hold', names: [name], task },
    );
  }

  /** Queues a free of `name` for `peer`, sent on a later turn. */
  free(peer: ControlSink, name: string): void {
    let box = this.#frees.get(peer);
    if (box === undefined) {
      box = [];
      this.#frees.set(peer, box);
    }
    box.push(name);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends the queued frees before this turn ends (an explicit release: a task submitted next may need the space). */
  flushSoon(): void {
    if (this.#flushSoon) return;
    this.#flushSoon = true;
    queueMicrotask(() => {
      this.#flushSoon = false;
      this.flush();
    });
  }

  flush(): void {
    this.#flushing = false;
    for (const [peer, box] of this.#frees) {
      if (box.length > 0) peer.sendControl({ type: 'free', names: box.splice(0) });
    }
  }

  /** The peer is gone: what was queued for it is dropped. */
  forget(peer: ControlSink): void {
    this.#frees.delete(peer);
  }
}
