// Objects the encoder does not walk into: Errors (V8 carries them, and their
// cause, which is checked), the built-ins V8 copies (Date, RegExp, boxed
// primitives), and the last kinds of the table, which refuse what cannot
// travel: a Proxy, an instance of an unregistered class.
import { types } from 'node:util';
import { adapterFor } from '../../adapters/shapes.js';
import { NotTransferableError } from '../../errors.js';
import { renderPath, step } from '../path.js';
import type { ValueKind } from './types.js';

export const proxyKind: ValueKind = {
  name: 'Proxy',
  test: (value): value is object => types.isProxy(value),
  scan(_value, path) {
    throw new NotTransferableError(
      renderPath(path),
      'it is a Proxy, which V8 cannot serialize',
      'Pass the object it stands for, or a plain copy of it.',
    );
  },
  write: (value) => value,
};

export const errorKind: ValueKind<Error> = {
  name: 'Error',
  test: (value): value is Error => value instanceof Error,
  scan(value, path, s) {
    // V8 serializes an Error's own data property 'cause' (not its other fields): check it too.
    const cause = Object.getOwnPropertyDescriptor(value, 'cause');
    if (cause !== undefined && 'value' in cause) s.visitCause(cause.value, step(path, 'cause'));
  },
  write: (value) => value,
};

const PLAIN_BUILTINS = [Date, RegExp, Boolean, Number, String, BigInt] as const;

export const builtinKind: ValueKind = {
  name: 'built-in',
  test: (value): value is object => PLAIN_BUILTINS.some((ctor) => value instanceof ctor),
  scan() {},
  write: (value) => value,
};

export const unknownClassKind: ValueKind = {
  name: 'class instance',
  test: (value): value is object => true,
  scan(value, path) {
    const adapter = adapterFor(value);
    if (adapter !== undefined) {
      throw new NotTransferableError(
        renderPath(path),
        `it is ${adapter.what}, and no codec for such values is registered in this process`,
        `Add import '${adapter.entry}' once in the parent program: it registers the codec that sends them ` +
          'through shared memory (import it in the task module too, so the worker can read and return them).',
      );
    }
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'an unknown class';
    throw new NotTransferableError(
      renderPath(path),
      `it is an instance of class ${name}, which the other process cannot rebuild`,
      `Pass a plain object, or register the class with registerArrayWrapper(${name}, field) in both processes.`,
    );
  },
  write: (value) => value,
};
