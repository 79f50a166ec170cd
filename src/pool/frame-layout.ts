// The hand-written layouts of the two messages every task sends, 'run' and
// 'results' (see frames.ts for the frame around them). V8's serializer costs
// a native object and a JS hook per view for each message: more than a tiny
// task itself. A task or an outcome that does not fit the layout (an error,
// a bigint, a view of a class the table does not know) goes as a V8 body of
// its own inside the frame, so every message still means what it did.
//
// Positions are kept 8-byte aligned where views start, relative to the body,
// and frames are whole multiples of 8 bytes: a view read from a chunk (which
// starts aligned) is made in place, without a copy.
import { VIEW_KINDS, viewKindOf } from '../transfer/array-kinds.js';
import type { Encoded } from '../transfer/encode.js';
import type { FrameCursor, FrameWriter } from './frame-io.js';
import type { TaskMessage, TaskOutcome, TaskRef } from './protocol.js';

/** What goes as a V8 body inside a hand-written frame, both ways (frames.ts). */
export interface Fallback {
  write(w: FrameWriter, value: unknown): void;
  read(c: FrameCursor): unknown;
}

const ENTRY_FAST = 1;
const ENTRY_V8 = 2;

const V_UNDEFINED = 0;
const V_NULL = 1;
const V_FALSE = 2;
const V_TRUE = 3;
const V_NUMBER = 4;
const V_STRING = 5;
const V_VIEW = 6;

const ENC_PAYLOAD = 0;
const ENC_RAW = 1;
const ENC_RAW_LIST = 2;

const REF_MODULE = 0;
const REF_SOURCE = 1;
const REF_SOURCE_WITH_TEXT = 2;
/** A numbered module ref the first time on a channel: id, URL, name. */
const REF_MODULE_NUMBERED = 3;
/** A numbered module ref the channel carried already: its id alone. */
const REF_MODULE_KNOWN = 4;

/**
 * The numbered module refs one channel carried already, on each side: the
 * writer sends a ref's URL and name once, the reader keeps the ref it read
 * (and gives that same object for each later task). Frames are read in the
 * order they are written, so the reader has a ref before its id comes alone.
 */
export type SentRefs = Set<number>;
export type ReadRefs = Map<number, TaskRef>;

/** UTF-8 would replace a lone surrogate: such a string goes in a V8 body, which keeps it. */
function wellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

function fitsValue(v: unknown): boolean {
  const t = typeof v;
  if (v === undefined || v === null || t === 'boolean' || t === 'number') return true;
  if (t === 'string') return wellFormed(v as string);
  return ArrayBuffer.isView(v) && viewKindOf(v) !== undefined;
}

function fitsRef(ref: TaskRef, sent: SentRefs | undefined): boolean {
  if (ref.kind === 'module' && ref.id !== undefined && sent?.has(ref.id) === true) return true;
  if (!wellFormed(ref.name)) return false;
  return ref.kind === 'module' ? wellFormed(ref.url) : ref.source === undefined || wellFormed(ref.source);
}

/** Whether an Encoded value has the layout: a payload, or a flat value of primitives and known views. */
function fitsEncoded(e: Encoded): boolean {
  if (e instanceof Uint8Array) return true;
  const raw = e.raw;
  if (!Array.isArray(raw)) return fitsValue(raw);
  // One view twice arrives as one object: V8's serializer keeps that, the layout does not.
  const seen = raw.length > 16 ? new Set<unknown>() : undefined;
  for (let i = 0; i < raw.length; i++) {
    const v: unknown = raw[i];
    if (!fitsValue(v)) return false;
    if (typeof v !== 'object' || v === null) continue;
    if (seen === undefined ? raw.indexOf(v, i + 1) >= 0 : seen.has(v)) return false;
    seen?.add(v);
  }
  return true;
}

function writeValue(w: FrameWriter, v: unknown): void {
  if (v === undefined) w.u8(V_UNDEFINED);
  else if (v === null) w.u8(V_NULL);
  else if (v === false) w.u8(V_FALSE);
  else if (v === true) w.u8(V_TRUE);
  else if (typeof v === 'number') {
    w.u8(V_NUMBER);
    w.f64(v);
  } else if (typeof v === 'string') {
    w.u8(V_STRING);
    w.str(v);
  } else {
    const view = v as ArrayBufferView;
    w.u8(V_VIEW);
    w.u8(viewKindOf(view)!);
    w.bytes(view);
  }
}

function readValue(c: FrameCursor): unknown {
  const tag = c.u8();
  switch (tag) {
    case V_UNDEFINED:
      return undefined;
    case V_NULL:
      return null;
    case V_FALSE:
      return false;
    case V_TRUE:
      return true;
    case V_NUMBER:
      return c.f64();
    case V_STRING:
      return c.str();
    case V_VIEW: {
      const kind = VIEW_KINDS[c.u8()];
      if (kind === undefined) throw new RangeError('shmex channel: unknown view kind');
      if (c.transient) {
        // A buffer of the view's own, at offset 0: aligned for every kind.
        const own = c.ownBytes();
        return kind.make(own, 0, own.byteLength);
      }
      const bytes = c.bytes();
      // In place when aligned for its kind (it is, in a frame as written); a copy otherwise.
      const own = bytes.byteOffset % kind.bytesPerElement === 0 ? bytes : new Uint8Array(bytes.byteLength);
      if (own !== bytes) own.set(bytes);
      return kind.make(own.buffer, own.byteOffset, own.byteLength);
    }
    default:
      throw new RangeError(`shmex channel: unknown value tag ${tag}`);
  }
}

function writeEncoded(w: FrameWriter, e: Encoded): void {
  if (e instanceof Uint8Array) {
    w.u8(ENC_PAYLOAD);
    w.bytes(e);
    return;
  }
  const raw = e.raw;
  if (Array.isArray(raw)) {
    w.u8(ENC_RAW_LIST);
    w.u32(raw.length);
    for (let i = 0; i < raw.length; i++) writeValue(w, raw[i]);
  } else {
    w.u8(ENC_RAW);
    writeValue(w, raw);
  }
}

function readEncoded(c: FrameCursor): Encoded {
  const enc = c.u8();
  if (enc === ENC_PAYLOAD) return c.bytes();
  if (enc === ENC_RAW) return { raw: readValue(c) };
  if (enc !== ENC_RAW_LIST) throw new RangeError(`shmex channel: unknown encoding ${enc}`);
  const n = c.u32();
  const raw: unknown[] = [];
  for (let i = 0; i < n; i++) raw.push(readValue(c));
  return { raw };
}

function writeLeases(w: FrameWriter, leases: readonly string[]): void {
  w.u32(leases.length);
  for (let i = 0; i < leases.length; i++) w.str(leases[i]!);
}

function readLeases(c: FrameCursor): string[] {
  const n = c.u32();
  const leases: string[] = [];
  for (let i = 0; i < n; i++) leases.push(c.str());
  return leases;
}

function writeRef(w: FrameWriter, ref: TaskRef, sent: SentRefs | undefined): void {
  if (ref.kind === 'module') {
    if (ref.id === undefined || sent === undefined) {
      w.u8(REF_MODULE);
    } else if (sent.has(ref.id)) {
      w.u8(REF_MODULE_KNOWN);
      w.f64(ref.id);
      return;
    } else {
      sent.add(ref.id);
      w.u8(REF_MODULE_NUMBERED);
      w.f64(ref.id);
    }
    w.str(ref.url);
  } else {
    w.u8(ref.source === undefined ? REF_SOURCE : REF_SOURCE_WITH_TEXT);
    w.f64(ref.id);
    if (ref.source !== undefined) w.str(ref.source);
  }
  w.str(ref.name);
}

function readRef(c: FrameCursor, refs: ReadRefs | undefined): TaskRef {
  const kind = c.u8();
  if (kind === REF_MODULE) {
    const url = c.str();
    return { kind: 'module', url, name: c.str() };
  }
  if (kind === REF_MODULE_KNOWN) {
    const id = c.f64();
    const ref = refs?.get(id);
    if (ref === undefined) throw new RangeError(`shmex channel: task ${id} was never named`);
    return ref;
  }
  if (kind === REF_MODULE_NUMBERED) {
    const id = c.f64();
    const url = c.str();
    const ref: TaskRef = { kind: 'module', url, name: c.str(), id };
    refs?.set(id, ref);
    return ref;
  }
  const id = c.f64();
  const source = kind === REF_SOURCE_WITH_TEXT ? c.str() : undefined;
  const name = c.str();
  return source === undefined ? { kind: 'source', id, name } : { kind: 'source', id, name, source };
}

/** A 'run' message's tasks, as a body. */
export function writeTasks(
  w: FrameWriter,
  tasks: readonly TaskMessage[],
  fallback: Fallback,
  sent?: SentRefs,
): void {
  w.u32(tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i]!;
    if (!fitsEncoded(task.args) || !fitsRef(task.task, sent)) {
      w.u8(ENTRY_V8);
      fallback.write(w, task);
      continue;
    }
    w.u8(ENTRY_FAST);
    w.f64(task.id);
    w.u8((task.chunk ? 1 : 0) | (task.giveBack === 'now' ? 2 : task.giveBack === 'after' ? 4 : 0));
    writeRef(w, task.task, sent);
    writeLeases(w, task.leases);
    writeEncoded(w, task.args);
  }
}

export function readTasks(c: FrameCursor, fallback: Fallback, refs?: ReadRefs): TaskMessage[] {
  const n = c.u32();
  const tasks: TaskMessage[] = [];
  for (let i = 0; i < n; i++) {
    if (c.u8() === ENTRY_V8) {
      tasks.push(fallback.read(c) as TaskMessage);
      continue;
    }
    const id = c.f64();
    const flags = c.u8();
    const chunk = (flags & 1) === 1;
    const task = readRef(c, refs);
    const leases = readLeases(c);
    const message: TaskMessage = { id, task, args: readEncoded(c), leases, chunk };
    if ((flags & 2) === 2) message.giveBack = 'now';
    else if ((flags & 4) === 4) message.giveBack = 'after';
    tasks.push(message);
  }
  return tasks;
}

/** A 'results' message's outcomes, as a body. */
export function writeOutcomes(w: FrameWriter, outcomes: readonly TaskOutcome[], fallback: Fallback): void {
  w.u32(outcomes.length);
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i]!;
    if (!outcome.ok || !fitsEncoded(outcome.result)) {
      w.u8(ENTRY_V8);
      fallback.write(w, outcome);
      continue;
    }
    w.u8(ENTRY_FAST);
    w.f64(outcome.id);
    writeLeases(w, outcome.leases);
    writeEncoded(w, outcome.result);
  }
}

export function readOutcomes(c: FrameCursor, fallback: Fallback): TaskOutcome[] {
  const n = c.u32();
  const outcomes: TaskOutcome[] = [];
  for (let i = 0; i < n; i++) {
    if (c.u8() === ENTRY_V8) {
      outcomes.push(fallback.read(c) as TaskOutcome);
      continue;
    }
    const id = c.f64();
    const leases = readLeases(c);
    outcomes.push({ id, ok: true, result: readEncoded(c), leases });
  }
  return outcomes;
}

/** Bytes a 'run' or 'results' body is likely to take: its views, and a little per entry. */
export function estimate(entries: readonly (TaskMessage | TaskOutcome)[]): number {
  let bytes = 8;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    bytes += 256;
    const enc = 'args' in e ? e.args : e.ok ? e.result : undefined;
    if (enc instanceof Uint8Array) bytes += enc.byteLength + 8;
    else if (enc !== undefined) bytes += rawBytes(enc.raw);
  }
  return bytes;
}

function rawBytes(raw: unknown): number {
  if (ArrayBuffer.isView(raw)) return raw.byteLength + 24;
  if (!Array.isArray(raw)) return 0;
  let bytes = 0;
  for (let i = 0; i < raw.length; i++) {
    const v: unknown = raw[i];
    if (ArrayBuffer.isView(v)) bytes += v.byteLength + 24;
  }
  return bytes;
}
