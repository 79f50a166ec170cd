// Plain objects, plain arrays, Maps and Sets: V8 carries them as they are,
// and the encoder walks into them. Subclasses of Array, Map and Set are class
// instances like any other (V8 would drop their class): not these kinds.
import { mapStep, step } from '../path.js';
import type { ValueKind } from './types.js';

export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export const plainObjectKind: ValueKind<Record<string, unknown>> = {
  name: 'plain object',
  // Not a view whose prototype was changed: that is refused as a view of an unknown class.
  test: (value, proto): value is Record<string, unknown> =>
    (proto === Object.prototype || proto === null) && !ArrayBuffer.isView(value),
  scan(value, path, s) {
    for (const key of Object.keys(value)) s.visit(value[key], step(path, key));
  },
  write: (value, w) => w.copyProps(value, w.memo(value, {})),
};

export const plainArrayKind: ValueKind<unknown[]> = {
  name: 'array',
  test: (value, proto): value is unknown[] => proto === Array.prototype && Array.isArray(value),
  scan(value, path, s) {
    for (let i = 0; i < value.length; i++) s.visit(value[i], step(path, i));
  },
  write(value, w) {
    const out = w.memo(value, new Array<unknown>(value.length));
    for (let i = 0; i < value.length; i++) out[i] = w.copy(value[i]);
    return out;
  },
};

export const mapKind: ValueKind<Map<unknown, unknown>> = {
  name: 'Map',
  test: (value, proto): value is Map<unknown, unknown> => proto === Map.prototype && value instanceof Map,
  scan(value, path, s) {
    for (const [k, v] of value) {
      s.visit(k, mapStep(path, 'key', k));
      s.visit(v, mapStep(path, 'get', k));
    }
  },
  write(value, w) {
    const out = w.memo(value, new Map());
    for (const [k, v] of value) out.set(w.copy(k), w.copy(v));
    return out;
  },
};

export const setKind: ValueKind<Set<unknown>> = {
  name: 'Set',
  test: (value, proto): value is Set<unknown> => proto === Set.prototype && value instanceof Set,
  scan(value, path, s) {
    for (const v of value) s.visit(v, mapStep(path, 'has', v));
  },
  write(value, w) {
    const out = w.memo(value, new Set());
    for (const v of value) out.add(w.copy(v));
    return out;
  },
};
