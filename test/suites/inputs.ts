// Inputs for map suites that record how the map reads them.

/** An endless iterable of 0, 1, 2, ... that counts the items read and notes when it is closed. */
export class CountedNaturals implements Iterable<number> {
  pulled = 0;
  closed = false;

  *[Symbol.iterator](): Generator<number> {
    try {
      for (let i = 0; ; i++) {
        this.pulled++;
        yield i;
      }
    } finally {
      this.closed = true;
    }
  }
}
