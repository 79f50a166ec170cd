// The frames of a worker process's channel (see "The channel" in
// docs/design.md): two pipes, one each way, carrying
//
//   u32 body length (LE) | u8 body format | 3 bytes zero | body (a multiple of 8 bytes)
//
// 'run' and 'results' bodies have layouts of their own (frame-layout.ts);
// other messages, and the tasks and outcomes those layouts do not fit, are
// V8's serialization of the message, with the host-object hooks Node's IPC
// channel uses ('advanced'), so every message means what it meant there:
// views travel as views, other host objects as plain copies.
import { writeSync, writevSync } from 'node:fs';
import type { Socket } from 'node:net';
import { DefaultDeserializer, DefaultSerializer } from 'node:v8';
import { FRAME_GATHER_BYTES } from '../tuning.js';
import { FrameCursor, FrameWriter } from './frame-io.js';
import {
  estimate,
  type Fallback,
  type ReadRefs,
  readOutcomes,
  readTasks,
  type SentRefs,
  writeOutcomes,
  writeTasks,
} from './frame-layout.js';
import type { FromWorker, ToWorker } from './protocol.js';

/** Bytes before a body: its length and its format. */
export const FRAME_HEADER = 8;
/** A body in V8's serialization format. */
const FORMAT_V8 = 1;
const FORMAT_RUN = 2;
const FORMAT_RESULTS = 3;

const HOST_VIEW = 0;
const HOST_OTHER = 1;

/** As Node's IPC serializer: a host object that is not a view travels as a plain copy of its own fields. */
class FrameSerializer extends DefaultSerializer {
  _writeHostObject(object: object): void {
    if (ArrayBuffer.isView(object)) {
      this.writeUint32(HOST_VIEW);
      (DefaultSerializer.prototype as unknown as HostWriter)._writeHostObject.call(this, object);
      return;
    }
    this.writeUint32(HOST_OTHER);
    this.writeValue({ ...object });
  }
}

class FrameDeserializer extends DefaultDeserializer {
  _readHostObject(): unknown {
    if (this.readUint32() === HOST_VIEW)
      return (DefaultDeserializer.prototype as unknown as HostReader)._readHostObject.call(this);
    return this.readValue();
  }
}

// The hooks DefaultSerializer and DefaultDeserializer implement; not in @types/node.
interface HostWriter {
  _writeHostObject(this: DefaultSerializer, object: object): void;
}
interface HostReader {
  _readHostObject(this: DefaultDeserializer): unknown;
}

function serialize(value: unknown): Buffer {
  const serializer = new FrameSerializer();
  serializer.writeHeader();
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

function deserialize(bytes: Uint8Array): unknown {
  const deserializer = new FrameDeserializer(bytes as Buffer);
  deserializer.readHeader();
  return deserializer.readValue();
}

/** A task or an outcome the layout does not fit: a V8 body inside the frame (copied out of a transient one: see FrameCursor). */
const inV8: Fallback = {
  write: (w, value) => w.bytes(serialize(value)),
  read: (c) => deserialize(c.bytes()),
};

/**
 * One message into a frame, header included (see FrameWriter: `gatherBytes`
 * leaves views of that size or more out of its memory). `sent`: the
 * numbered module refs this channel carried already (see SentRefs), for a
 * channel whose reader keeps them.
 */
function writeFrame(
  message: ToWorker | FromWorker,
  scratch: Buffer | undefined,
  sent: SentRefs | undefined,
  gatherBytes?: number,
): FrameWriter {
  let w: FrameWriter;
  let format: number;
  if (message.type === 'run') {
    w = new FrameWriter(estimate(message.tasks), FRAME_HEADER, scratch, gatherBytes);
    writeTasks(w, message.tasks, inV8, sent);
    format = FORMAT_RUN;
  } else if (message.type === 'results') {
    w = new FrameWriter(estimate(message.outcomes), FRAME_HEADER, scratch, gatherBytes);
    writeOutcomes(w, message.outcomes, inV8);
    format = FORMAT_RESULTS;
  } else {
    const body = serialize(message);
    w = new FrameWriter(body.length + 8, FRAME_HEADER, scratch);
    w.room(body.length);
    body.copy(w.buf, w.pos);
    w.pos += body.length;
    format = FORMAT_V8;
  }
  w.align();
  const header = w.buf;
  header.writeUInt32LE(w.length - FRAME_HEADER, 0);
  header[4] = format;
  header[5] = 0;
  header[6] = 0;
  header[7] = 0;
  return w;
}

/**
 * One message as a frame, header included (written to the pipe with a
 * single write), and the memory it lies in (at its start).
 */
export function encodeFrame(
  message: ToWorker | FromWorker,
  scratch?: Buffer,
  sent?: SentRefs,
): { frame: Buffer; memory: Buffer } {
  const w = writeFrame(message, scratch, sent);
  return { frame: w.buf.subarray(0, w.pos), memory: w.buf };
}

/** Frames up to this size reuse the memory of the previous one. */
const SCRATCH_MAX = 1024 * 1024;
const SCRATCH_MIN = 64 * 1024;

/**
 * Writes messages to a pipe, one write each. While the socket has nothing
 * queued (the usual case), a frame is written to the pipe's descriptor at
 * once, without a stream's machinery per message (a write request, a tick
 * after it): the descriptor is non-blocking, so a full pipe takes part of it
 * or none, and the socket queues the rest, which keeps the order. A frame
 * the pipe took whole leaves its memory free for the next one, so a steady
 * stream of tasks allocates no frame memory.
 */
export class FrameOutput {
  readonly #socket: Socket;
  #scratch: Buffer | undefined = Buffer.allocUnsafeSlow(SCRATCH_MIN);
  readonly #sent: SentRefs = new Set();

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  get writable(): boolean {
    return this.#socket.writable;
  }

  write(message: ToWorker | FromWorker): void {
    let w: FrameWriter;
    try {
      w = writeFrame(message, this.#scratch, this.#sent, FRAME_GATHER_BYTES);
    } catch (error) {
      // Refs marked sent in a frame that never goes out: name them all again.
      this.#sent.clear();
      throw error;
    }
    const memory = w.buf;
    const parts = w.parts();
    this.#scratch = undefined;
    if (parts !== undefined) {
      this.#writeParts(parts, w.length);
      if (memory.length <= SCRATCH_MAX) this.#scratch = memory;
      return;
    }
    const frame = memory.subarray(0, w.pos);
    const at = this.#socket.writableLength === 0 ? writeNow(this.#socket, frame) : 0;
    if (at === frame.length) {
      if (memory.length <= SCRATCH_MAX) this.#scratch = memory;
      return;
    }
    this.#socket.write(at === 0 ? frame : frame.subarray(at));
    // Queued (the pipe is full): the socket holds the frame until it is written.
    if (this.#socket.writableLength === 0 && memory.length <= SCRATCH_MAX) this.#scratch = memory;
  }

  /**
   * A frame in pieces (views left out of its memory: one copy of an argument
   * less), with one gathering write. What the pipe does not take now is
   * copied for the socket to queue: the views may change once this returns.
   */
  #writeParts(parts: Uint8Array[], length: number): void {
    const at = this.#socket.writableLength === 0 ? writeNow(this.#socket, parts) : 0;
    if (at === length) return;
    const rest = Buffer.allocUnsafeSlow(length - at);
    let skip = at;
    let to = 0;
    for (const part of parts) {
      if (skip >= part.length) {
        skip -= part.length;
        continue;
      }
      rest.set(skip === 0 ? part : part.subarray(skip), to);
      to += part.length - skip;
      skip = 0;
    }
    this.#socket.write(rest);
  }
}

/** A socket's libuv handle, for its descriptor: not in @types/node. */
interface WithHandle {
  _handle?: { fd?: number } | null;
}

/**
 * Bytes of `frame` the pipe took at once; 0 when it is full, or when the
 * write fails (EPIPE: the worker has just died), which the socket's own
 * write then meets and reports as it always did.
 */
function writeNow(socket: Socket, frame: Buffer | Uint8Array[]): number {
  const fd = (socket as unknown as WithHandle)._handle?.fd;
  if (fd === undefined || fd < 0) return 0;
  try {
    return Array.isArray(frame) ? writevSync(fd, frame) : writeSync(fd, frame, 0, frame.length);
  } catch {
    return 0;
  }
}

function ownCopy(body: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(body.length);
  body.copy(copy);
  return copy;
}

/**
 * A frame's body, `buf[start, end)`, as its message. `transient`: the body's memory is read into
 * again afterwards, so the message keeps nothing of it (see FrameCursor).
 */
export function decodeBody(
  format: number,
  buf: Buffer,
  start: number,
  end: number,
  refs: ReadRefs,
  transient = false,
): unknown {
  if (format === FORMAT_RUN)
    return { type: 'run', tasks: readTasks(new FrameCursor(buf, transient, start, end), inV8, refs) };
  if (format === FORMAT_RESULTS)
    return { type: 'results', outcomes: readOutcomes(new FrameCursor(buf, transient, start, end), inV8) };
  // V8's deserializer makes views into the bytes it reads.
  const body = buf.subarray(start, end);
  if (format === FORMAT_V8) return deserialize(transient ? ownCopy(body) : body);
  throw new RangeError(`shmex channel: unknown frame format ${format}`);
}

/** How long a write waits before trying again, should the descriptor be non-blocking and full. */
const RETRY_MS = 1;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes messages to a blocking file descriptor (a worker's end of its
 * output pipe, which no socket wraps): each write returns once the whole
 * frame is in the pipe, with none of a stream's machinery per message, and
 * a frame written from an 'exit' handler is never cut short. Waits while
 * the pipe is full (the parent reads it from its event loop); throws if the
 * parent is gone (EPIPE).
 */
export class BlockingFrameOutput {
  readonly #fd: number;
  #scratch: Buffer = Buffer.allocUnsafeSlow(SCRATCH_MIN);

  constructor(fd: number) {
    this.#fd = fd;
  }

  write(message: ToWorker | FromWorker): void {
    const w = writeFrame(message, this.#scratch, undefined);
    const frame = w.buf;
    const length = w.pos;
    if (frame.length <= SCRATCH_MAX) this.#scratch = frame;
    let at = 0;
    while (at < length) {
      try {
        at += writeSync(this.#fd, frame, at, length - at);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        Atomics.wait(sleeper, 0, 0, RETRY_MS);
      }
    }
  }
}
