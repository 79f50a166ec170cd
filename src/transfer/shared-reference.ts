// shared(array): pass an array by reference instead of by value. The array
// must live in shared memory (made with empty/zeros/from, or a task's result),
// and the worker maps it shared, so its writes reach the caller.
export class SharedReference {
  readonly view: ArrayBufferView;
  constructor(view: ArrayBufferView) {
    this.view = view;
  }
}
