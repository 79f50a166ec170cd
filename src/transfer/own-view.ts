// Small values cross the channel as they are (see Encoded in encode.ts);
// their views are copied on both sides so each has a buffer of its own.
import { types } from 'node:util';
import { SNAPSHOT_SPARE_IDLE_MS, SNAPSHOT_SPARE_SLABS } from '../tuning.js';
import { VIEW_KINDS, viewKindOf } from './array-kinds.js';
import type { Encoded } from './encode.js';

/**
 * A copy of a view with a buffer of its own (one copy per distinct view, in
 * `copies`: needed only where the same view may come twice, a list of two or more). The channel's V8 deserializer makes views into its message
 * buffer, at an offset and over the rest of the message; the sender
 * snapshots its views the same way, so later writes do not reach the copy.
 */
export function ownView(value: unknown, copies?: Map<ArrayBufferView, ArrayBufferView>): unknown {
  if (!ArrayBuffer.isView(value)) return value;
  let copy = copies?.get(value);
  if (copy === undefined) {
    // Not zero-filled first: every byte is written next.
    const buffer = Buffer.allocUnsafeSlow(value.byteLength).buffer as ArrayBuffer;
    new Uint8Array(buffer).set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    copy = VIEW_KINDS[viewKindOf(value)!]!.make(buffer, 0, value.byteLength);
    copies?.set(value, copy);
  }
  return copy;
}

/**
 * Whether a small value's views each span the whole of their buffer (as the
 * views a process's results frame is read into: see FrameInput). Views a V8
 * body made share the body's buffer, at offsets, and are not.
 */
export function inOwnBuffers(e: Encoded): boolean {
  if (e instanceof Uint8Array) return false;
  const raw = e.raw;
  if (!Array.isArray(raw)) return !ArrayBuffer.isView(raw) || wholeBuffer(raw);
  for (const v of raw) if (ArrayBuffer.isView(v) && !wholeBuffer(v)) return false;
  return true;
}

function wholeBuffer(view: ArrayBufferView): boolean {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}

/** Snapshots up to this size share slabs (see snapshotView); larger ones get a buffer of their own. */
const SLAB_BYTES = 256 * 1024;
const MAX_IN_SLAB = 16 * 1024;

/** Memory shared by the snapshots of several tasks; `live`: payloads that pin it. */
export class Slab {
  readonly buffer = Buffer.allocUnsafeSlow(SLAB_BYTES).buffer as ArrayBuffer;
  used = 0;
  live = 0;
}

/**
 * What pins slabs: a payload whose snapshots lie in them (a value's
 * snapshots may span two slabs). Released once (releaseSnapshots).
 */
export interface SlabPins {
  slab?: Slab | undefined;
  moreSlabs?: Slab[] | undefined;
}

let current: Slab | undefined;
/** Slabs no payload pins any more, ready to be filled again. */
const spare: Slab[] = [];
let spareTaken = false;
let trimTimer: NodeJS.Timeout | undefined;

function nextSlab(): Slab {
  const slab = spare.pop();
  if (slab === undefined) return new Slab();
  spareTaken = true;
  slab.used = 0;
  return slab;
}

function pin(pins: SlabPins, slab: Slab): void {
  if (pins.slab === slab || pins.moreSlabs?.includes(slab)) return;
  slab.live++;
  if (pins.slab === undefined) pins.slab = slab;
  else if (pins.moreSlabs === undefined) pins.moreSlabs = [slab];
  else pins.moreSlabs.push(slab);
}

function unpin(slab: Slab): void {
  if (--slab.live > 0) return;
  if (slab === current) {
    slab.used = 0;
    return;
  }
  if (spare.length >= SNAPSHOT_SPARE_SLABS) return;
  spare.push(slab);
  if (trimTimer === undefined) trimTimer = setTimeout(trimSpare, SNAPSHOT_SPARE_IDLE_MS).unref();
}

/** Spare slabs none of which was needed for a while go back to the allocator. */
function trimSpare(): void {
  trimTimer = undefined;
  if (!spareTaken) spare.length = 0;
  spareTaken = false;
  if (spare.length > 0) trimTimer = setTimeout(trimSpare, SNAPSHOT_SPARE_IDLE_MS).unref();
}

/**
 * The snapshots a payload pinned (snapshotView with `pins`) will never be
 * read again: their slabs' memory may be filled with others. Only for a
 * payload that is done with for good (its task's outcome arrived): a
 * snapshot written over while still to be sent would send other bytes.
 * A payload never released keeps its slabs from reuse; the collector frees them.
 */
export function releaseSnapshots(pins: SlabPins): void {
  const { slab, moreSlabs } = pins;
  if (slab === undefined) return;
  pins.slab = undefined;
  unpin(slab);
  if (moreSlabs === undefined) return;
  pins.moreSlabs = undefined;
  for (const other of moreSlabs) unpin(other);
}

/**
 * As ownView, for a value that will only be serialized (to a worker
 * process's pipe, whose receiver copies it again): small views are copied
 * into a shared slab instead of a buffer each, since one allocation per tiny
 * task is what the garbage collector spent most of its time on. A slab lives
 * until every snapshot in it is collected, and is filled again once every
 * payload (`pins`) that has a snapshot in it is released (releaseSnapshots): fresh
 * slabs cost page faults and, as external memory, full collections. Never
 * for a thread's port: it moves (detaches) the buffers of what it sends.
 */
export function snapshotView(
  value: unknown,
  copies: Map<ArrayBufferView, ArrayBufferView> | undefined,
  pins: SlabPins,
): unknown {
  if (!ArrayBuffer.isView(value)) return value;
  const n = value.byteLength;
  if (n > MAX_IN_SLAB) return ownView(value, copies);
  let copy = copies?.get(value);
  if (copy === undefined) {
    if (current === undefined || current.used + n > SLAB_BYTES) current = nextSlab();
    const slab = current;
    const at = slab.used;
    slab.used = (at + n + 7) & ~7; // the next one starts aligned for any kind
    pin(pins, slab);
    copy = VIEW_KINDS[viewKindOf(value)!]!.make(slab.buffer, at, n);
    if (types.isTypedArray(copy) && copy.constructor === value.constructor) {
      // Same kind: a byte copy, without two Uint8Arrays made for it.
      (copy as Uint8Array).set(value as Uint8Array);
    } else {
      new Uint8Array(slab.buffer, at, n).set(new Uint8Array(value.buffer, value.byteOffset, n));
    }
    copies?.set(value, copy);
  }
  return copy;
}
