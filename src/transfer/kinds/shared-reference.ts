// shared(array): the array goes by reference (mode 'shared'); in the copy V8
// serializes, the reference is replaced by the array itself.
import { NotTransferableError } from '../../errors.js';
import { renderPath } from '../path.js';
import { SharedReference } from '../shared-reference.js';
import type { ValueKind } from './types.js';

export const sharedReferenceKind: ValueKind<SharedReference> = {
  name: 'shared()',
  special: true,
  test: (value): value is SharedReference => value instanceof SharedReference,
  scan(value, path, s) {
    const view = value.view;
    if (!ArrayBuffer.isView(view) || s.book.infoOf(view.buffer) === undefined) {
      throw new NotTransferableError(
        renderPath(path),
        'shared() was given an array that does not live in shared memory',
        'Make it with empty(), zeros() or from(), or pass the array a task returned.',
      );
    }
    s.visit(view, path);
    s.buffers.get(view.buffer)!.byReference = true;
    s.needsCopy = true;
  },
  write: (value) => value.view,
};
