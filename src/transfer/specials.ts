// The copy of a value that V8's serializer gets when the value holds
// specials (values V8 cannot carry as they are: see kinds/table.ts): each
// special is replaced by a marker view, written as a reference to its
// header; each kind writes its own values (ValueKind.write).
import type { BufferEntry, CodedValue, ValueKind, WriteContext } from './kinds/types.js';
import type { SpecialHeader } from './wire.js';

export class Specials implements WriteContext {
  readonly headers: SpecialHeader[] = [];
  /** Late fields of some specials (see WriteContext.marker), by header index. */
  readonly late: Array<{ index: number; fields: Record<string, unknown> }> = [];
  readonly markers = new Map<object, number>();
  readonly buffers: ReadonlyMap<ArrayBufferLike, BufferEntry>;
  readonly codedValues: ReadonlyMap<object, CodedValue>;
  readonly #memo = new Map<object, unknown>();
  readonly #kinds: ReadonlyMap<object, ValueKind>;

  constructor(
    buffers: ReadonlyMap<ArrayBufferLike, BufferEntry>,
    codedValues: ReadonlyMap<object, CodedValue>,
    /** The kind of every object in the value, as the scan found it. */
    kinds: ReadonlyMap<object, ValueKind>,
  ) {
    this.buffers = buffers;
    this.codedValues = codedValues;
    this.#kinds = kinds;
  }

  copy(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const done = this.#memo.get(value);
    if (done !== undefined) return done;
    const kind = this.#kinds.get(value);
    return kind === undefined ? value : kind.write(value, this);
  }

  memo<T>(original: object, out: T): T {
    this.#memo.set(original, out);
    return out;
  }

  marker(original: object, header: SpecialHeader, late?: object): DataView {
    const marker = new DataView(new ArrayBuffer(0));
    const index = this.headers.length;
    this.markers.set(marker, index);
    this.headers.push(header);
    this.#memo.set(original, marker);
    if (late !== undefined) this.late.push({ index, fields: this.copyProps(late, {}) });
    return marker;
  }

  copyProps(value: object, out: Record<string, unknown>): Record<string, unknown> {
    for (const key of Object.keys(value)) {
      // Defined, not assigned: an own '__proto__' key must stay a property, not become the prototype.
      Object.defineProperty(out, key, {
        value: this.copy((value as Record<string, unknown>)[key]),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    return out;
  }

  /** The late fields, in header order: the decoder reads them in that order. */
  lateInOrder(): Array<Record<string, unknown>> {
    return this.late.sort((a, b) => a.index - b.index).map((l) => l.fields);
  }
}
