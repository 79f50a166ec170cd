// Progress on the terminal: one line per step; on a TTY the current line is
// rewritten as iterations complete.

const tty = process.stderr.isTTY === true;

export class Progress {
  #line = '';
  #pending = '';
  #sections = 0;
  #section = 0;
  readonly #startedAt = performance.now();

  /** How many sections the run has: each section() then shows a progress bar. */
  plan(sections: number): void {
    this.#sections = sections;
  }

  /** Starts the next section: a bar of the sections done so far, the time taken, and its title. */
  section(title: string): void {
    this.#section++;
    const width = 24;
    const done = this.#sections === 0 ? 0 : Math.round((width * (this.#section - 1)) / this.#sections);
    const bar = `${'█'.repeat(done)}${'░'.repeat(width - done)}`;
    const elapsed = Math.round((performance.now() - this.#startedAt) / 1000);
    this.say(`\n${bar} section ${this.#section}/${this.#sections}, ${elapsed} s so far\n${title}`);
  }

  /** Starts a new line. */
  step(text: string): void {
    this.#end();
    this.#line = text;
    if (tty) process.stderr.write(text);
  }

  /** Updates the current line with `detail` (on a TTY; elsewhere it is printed once the step is done). */
  update(detail: string): void {
    if (tty) process.stderr.write(`\r\x1b[K${this.#line} ${detail}`);
    this.#pending = detail;
  }

  /** Finishes the current line with `result`. */
  done(result: string): void {
    if (tty) process.stderr.write(`\r\x1b[K${this.#line} ${result}\n`);
    else process.stderr.write(`${this.#line} ${result}\n`);
    this.#line = '';
    this.#pending = '';
  }

  /** A line of its own (a heading). */
  say(text: string): void {
    this.#end();
    process.stderr.write(`${text}\n`);
  }

  #end(): void {
    if (this.#line === '') return;
    if (tty) process.stderr.write('\n');
    else process.stderr.write(`${this.#line} ${this.#pending}\n`);
    this.#line = '';
    this.#pending = '';
  }
}

export const progress = new Progress();

export const fmtMs = (ms: number): string =>
  ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
