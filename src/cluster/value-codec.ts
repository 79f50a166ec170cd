// Values to messages and back. Large arrays become markers naming a blob
// (uploaded to Redis once, see blob-store.ts); values of codecs (records,
// wrappers, Arrow...) become markers holding their parts (coded-values.ts);
// everything else, small arrays included, goes through V8's serializer inline. On arrival a blob is
// written into a fresh shared-memory array (empty()), so the local pool
// receives it without another copy.
import { deserialize, serialize } from 'node:v8';
import { empty } from '../arrays.js';
import { NotTransferableError } from '../errors.js';
import { TYPED_ARRAY_CONSTRUCTORS } from '../transfer/array-kinds.js';
import { codecOf } from '../transfer/codecs.js';
import { proxyKind, unknownClassKind } from '../transfer/kinds/opaque.js';
import { kindOf } from '../transfer/kinds/table.js';
import { SharedReference } from '../transfer/shared-reference.js';
import type { BlobStore } from './blob-store.js';
import { type CodedMarker, encodeCoded, rebuildCoded } from './coded-values.js';
import { ClusterValueError } from './errors.js';
import { npyHeader, npyLength } from './npy.js';

/** A blob a message refers to. */
export interface BlobRef {
  key: string;
  bytes: number;
  /** Set once the blob is deleted, so no later task of a map reuses it. */
  gone?: boolean;
}

interface Marker {
  kind: 'typed' | 'buffer' | 'dataview' | 'arraybuffer' | 'ref';
  type?: string;
  key?: string;
  length?: number;
  /** kind 'ref': the message of a put() value. */
  message?: Uint8Array;
  /** Used by one task only: the machine neither caches its download nor keeps it after the task. */
  once?: true;
}

/** A value stored once with `put()`, usable in many tasks. */
export class ClusterRef<T = unknown> {
  /** @internal */ readonly message: Uint8Array;
  /** @internal */ readonly blobs: BlobRef[];
  /** @internal */ released = false;
  readonly #release: () => Promise<void>;
  declare readonly __type?: T;
  /** @internal */
  constructor(message: Uint8Array, blobs: BlobRef[], release: () => Promise<void>) {
    this.message = message;
    this.blobs = blobs;
    this.#release = release;
  }

  /** Deletes the stored value; tasks submitted later with this reference fail. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.#release();
  }
}

/** An array uploaded within one map, reused by later tasks of that map while its blob lives. */
export interface SharedUpload {
  marker: Marker;
  ready: Promise<unknown>;
  blob: BlobRef;
}

export interface EncodeContext {
  store: BlobStore;
  /** Blob keys start with this (the submitter's prefix and what the message is for). */
  keyPrefix: string;
  threshold: number;
  /** Arrays already uploaded (within one map): reused, not uploaded again. */
  dedup?: Map<object, SharedUpload> | undefined;
  /** The message is for one task (not a map's, not put()): its blobs are marked `once`. */
  singleUse?: boolean;
  /** Collects the arrays uploaded as blobs (a machine releases its result arrays once uploaded). */
  uploaded?: object[];
}

export interface Encoded {
  message: Uint8Array;
  /** Blobs the message refers to (made for it, or reused within a map), each once; not those of put(). */
  blobs: BlobRef[];
}

const MARK = '\u0000shmex-cluster-blob';

/** Codec parts made within one map (by its dedup map), so a value passed to many of its tasks is uploaded once. */
const codecParts = new WeakMap<Map<object, SharedUpload>, Map<object, unknown>>();

function partsMade(dedup: Map<object, SharedUpload> | undefined): Map<object, unknown> | undefined {
  if (dedup === undefined) return undefined;
  let made = codecParts.get(dedup);
  if (made === undefined) {
    made = new Map();
    codecParts.set(dedup, made);
  }
  return made;
}

function isWalkable(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function viewKind(value: ArrayBufferView): Marker['kind'] {
  if (value instanceof DataView) return 'dataview';
  if (Buffer.isBuffer(value)) return 'buffer';
  return 'typed';
}

export async function encodeValue(value: unknown, ctx: EncodeContext): Promise<Encoded> {
  const created: BlobRef[] = [];
  const referenced = new Set<BlobRef>();
  const uploads: Promise<unknown>[] = [];
  let next = 0;
  const seen = new Map<object, unknown>();
  const markerOf = (source: object, bytes: Uint8Array, marker: Marker): unknown => {
    const known = ctx.dedup?.get(source);
    if (known !== undefined && known.blob.gone !== true) {
      uploads.push(known.ready);
      referenced.add(known.blob);
      return { [MARK]: known.marker };
    }
    const key = `${ctx.keyPrefix}${next++}`;
    marker.key = key;
    if (ctx.singleUse === true) marker.once = true;
    ctx.uploaded?.push(source);
    const blob: BlobRef = { key, bytes: bytes.byteLength };
    created.push(blob);
    referenced.add(blob);
    const ready = ctx.store.put(
      key,
      npyHeader(marker.type ?? 'Uint8Array', marker.length ?? bytes.byteLength),
      bytes,
    );
    uploads.push(ready);
    ctx.dedup?.set(source, { marker, ready, blob });
    return { [MARK]: marker };
  };
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v !== 'object' || v === null) {
      if (typeof v === 'function' || typeof v === 'symbol') {
        throw new NotTransferableError(path, `a ${typeof v}`, 'Pass data, not code, as task arguments');
      }
      return v;
    }
    if (v instanceof SharedReference) {
      throw new ClusterValueError(
        `${path} is shared(): writes to an array cannot reach another machine. Return the changed array from the task instead`,
      );
    }
    if (v instanceof SharedArrayBuffer) {
      throw new ClusterValueError(
        `${path} is a SharedArrayBuffer, whose writes cannot cross machines: pass a typed array`,
      );
    }
    if (v instanceof ClusterRef) {
      if (v.released) throw new ClusterValueError(`${path} is a put() reference that was released`);
      return { [MARK]: { kind: 'ref', message: v.message } satisfies Marker };
    }
    if (ArrayBuffer.isView(v)) {
      if (v.byteLength < ctx.threshold) return v;
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      const kind = viewKind(v);
      const type = kind === 'typed' ? v.constructor.name : 'Uint8Array';
      const length = kind === 'typed' ? (v as unknown as { length: number }).length : v.byteLength;
      return markerOf(v, bytes, { kind, type, length });
    }
    if (v instanceof ArrayBuffer) {
      if (v.byteLength < ctx.threshold) return v;
      return markerOf(v, new Uint8Array(v), { kind: 'arraybuffer', length: v.byteLength });
    }
    const known = seen.get(v);
    if (known !== undefined) return known;
    if (Array.isArray(v)) {
      const copy: unknown[] = [];
      seen.set(v, copy);
      for (let i = 0; i < v.length; i++) copy.push(walk(v[i], `${path}[${i}]`));
      return copy;
    }
    if (v instanceof Map) {
      const copy = new Map();
      seen.set(v, copy);
      for (const [k, item] of v) copy.set(k, walk(item, `${path}.get(${JSON.stringify(String(k))})`));
      return copy;
    }
    if (!isWalkable(v)) {
      // Records, wrapper instances and values of registered codecs (Arrow...), as between processes.
      const codec = codecOf(v);
      if (codec === undefined) {
        // What V8 carries (Date, Error, Set...) goes as it is; an instance of a class nobody
        // registered is refused with the same message as between processes (its class would be lost).
        const kind = kindOf(v);
        if (kind === unknownClassKind || kind === proxyKind)
          kind.scan(v, { label: path }, undefined as never);
        return v;
      }
      const holder: Record<string, unknown> = {};
      seen.set(v, holder);
      return encodeCoded(v, codec, path, holder, MARK, walk, partsMade(ctx.dedup));
    }
    const copy: Record<string, unknown> = {};
    seen.set(v, copy);
    for (const key of Object.keys(v)) copy[key] = walk((v as Record<string, unknown>)[key], `${path}.${key}`);
    return copy;
  };
  const forgetCreated = async (): Promise<void> => {
    await Promise.allSettled(uploads);
    for (const blob of created) {
      blob.gone = true;
      for (const [source, entry] of ctx.dedup ?? []) if (entry.blob === blob) ctx.dedup?.delete(source);
    }
    if (created.length > 0) await ctx.store.delete(created);
  };
  let message: Uint8Array;
  try {
    message = serialize(walk(value, 'args'));
  } catch (error) {
    await forgetCreated();
    if ((error as Error)?.name === 'DataCloneError') {
      throw new NotTransferableError('args', (error as Error).message, 'Pass plain data and arrays', {
        cause: error,
      });
    }
    throw error;
  }
  const results = await Promise.allSettled(uploads);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await forgetCreated();
    throw failed.reason;
  }
  return { message, blobs: [...referenced] };
}

/** Calls `found` with every marker holder in a tree of plain containers. */
function visitMarkers(
  tree: unknown,
  found: (holder: Record<string, unknown>, replace: (v: unknown) => void) => void,
): void {
  const seen = new Set<object>();
  const visit = (v: unknown, replace: (x: unknown) => void): void => {
    if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        visit(v[i], (x) => {
          v[i] = x;
        });
      }
    } else if (v instanceof Map) {
      for (const [k, item] of v) visit(item, (x) => v.set(k, x));
    } else if (isWalkable(v)) {
      const record = v as Record<string, unknown>;
      if (Object.hasOwn(record, MARK)) {
        const marker = record[MARK] as Marker | CodedMarker;
        // A codec value's parts and fields may hold blobs: downloaded first, the value rebuilt after.
        if (marker.kind === 'codec') visit(marker, () => {});
        else found(record, replace);
        return;
      }
      for (const key of Object.keys(record)) visit(record[key], (x) => (record[key] = x));
    }
  };
  visit(tree, () => {});
}

const TYPED: Record<string, new (n: number) => ArrayBufferView> = Object.fromEntries(
  TYPED_ARRAY_CONSTRUCTORS.map((C) => [C.name, C]),
);

/** Downloads of blobs this process keeps for a while (a machine: put() values many tasks use). */
export interface BlobCache {
  get(key: string): Promise<unknown> | undefined;
  set(key: string, value: Promise<unknown>, bytes: number): void;
}

/**
 * Rebuilds a value from its message, downloading its blobs into local shared
 * memory. Arrays of blobs marked `once` are not cached: they go to `owned`,
 * for the caller to release when the task is done.
 */
export async function decodeValue(
  message: Uint8Array,
  store: BlobStore,
  cache?: BlobCache,
  owned?: unknown[],
): Promise<unknown> {
  // Wrapped, so that a message that is one marker (a single large array) is replaced too.
  const box = { root: deserialize(message) as unknown };
  const pending: Promise<void>[] = [];
  visitMarkers(box, (holder, replace) => {
    const marker = holder[MARK] as Marker;
    pending.push(decodeMarker(marker, store, cache, owned).then(replace));
  });
  await Promise.all(pending);
  return rebuildCoded(box.root, MARK);
}

function decodeMarker(
  marker: Marker,
  store: BlobStore,
  cache: BlobCache | undefined,
  owned: unknown[] | undefined,
): Promise<unknown> {
  if (marker.kind === 'ref') return decodeValue(marker.message!, store, cache);
  const key = marker.key!;
  if (marker.once === true && owned !== undefined) {
    return store
      .get(key, (bytes, header) => allocate(marker, bytes, header, key))
      .then((value) => {
        owned.push(value);
        return value;
      });
  }
  const cached = cache?.get(key);
  if (cached !== undefined) return cached;
  const value = store.get(key, (bytes, header) => allocate(marker, bytes, header, key));
  cache?.set(key, value, marker.length ?? 0);
  return value;
}

function allocate(
  marker: Marker,
  bytes: number,
  header: Uint8Array,
  key: string,
): { target: Uint8Array; value: unknown } {
  const length = marker.length ?? bytes;
  if (npyLength(header) !== length)
    throw new ClusterValueError(`the stored array ${key} does not match its header`);
  if (marker.kind === 'arraybuffer') {
    const buffer = new ArrayBuffer(bytes);
    return { target: new Uint8Array(buffer), value: buffer };
  }
  if (marker.kind === 'typed') {
    const Ctor = TYPED[marker.type!];
    if (Ctor === undefined) throw new ClusterValueError(`unknown array type ${marker.type} in ${key}`);
    const array = length === 0 ? new Ctor(0) : empty(Ctor as never, length);
    return { target: new Uint8Array(array.buffer, array.byteOffset, array.byteLength), value: array };
  }
  const bytesArray = bytes === 0 ? new Uint8Array(0) : empty(Uint8Array, bytes);
  const value =
    marker.kind === 'buffer'
      ? Buffer.from(bytesArray.buffer, bytesArray.byteOffset, bytes)
      : new DataView(bytesArray.buffer, bytesArray.byteOffset, bytes);
  return { target: bytesArray, value };
}
