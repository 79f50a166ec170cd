// The outcomes a worker has finished and not yet sent, and the 'results'
// messages it has handed to its channel and not yet seen written.
import type { TaskOutcome } from '../pool/protocol.js';
import type { Channel } from './channel.js';

export class Outbox {
  readonly #channel: Channel;
  /** Gives back the holds of results that could not be sent. */
  readonly #free: (leases: string[]) => void;
  readonly #gathered: TaskOutcome[] = [];
  /** Results messages handed to the channel and not yet written to it; and who waits for them. */
  #unwritten = 0;
  #whenWritten: (() => void) | undefined;

  constructor(channel: Channel, free: (leases: string[]) => void) {
    this.#channel = channel;
    this.#free = free;
  }

  /** Outcomes gathered and not sent yet. */
  get length(): number {
    return this.#gathered.length;
  }

  push(outcome: TaskOutcome): void {
    this.#gathered.push(outcome);
  }

  /** Sends the outcomes gathered so far, in one 'results' message. */
  flush(): void {
    if (this.#gathered.length === 0) return;
    const outcomes = this.#gathered.splice(0);
    this.#unwritten++;
    this.#channel.send({ type: 'results', outcomes }, (error) => {
      if (error) for (const outcome of outcomes) if (outcome.ok) this.#free(outcome.leases);
      if (--this.#unwritten === 0) this.#whenWritten?.();
    });
  }

  /**
   * Resolves once every results message sent so far is written to the channel
   * (in the kernel's buffer, where it outlives this process); undefined if
   * they all are. A task may end the process (process.exit, a crash): results
   * the channel had not written yet would be lost with it, and tasks that
   * finished would fail.
   */
  written(): Promise<void> | undefined {
    if (this.#unwritten === 0) return undefined;
    return new Promise((resolve) => {
      this.#whenWritten = () => {
        this.#whenWritten = undefined;
        resolve();
      };
    });
  }
}
