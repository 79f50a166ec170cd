// Frames read from a pipe (a worker reads its tasks, the parent each worker's
// results) straight into one buffer that this reader owns and
// reads into again (the socket's `onread`), instead of a fresh chunk per read
// (Node allocates and zero-fills each one, then copies it when the read is
// short) that a split body is then gathered from. Bodies lie whole in the
// buffer, and are decoded there; a message keeps nothing of that memory
// (decodeBody's `transient`), so views arrive in buffers of their own, copied
// once from the pipe's bytes.
import { type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';
import type { ReadRefs } from './frame-layout.js';
import { decodeBody, FRAME_HEADER } from './frames.js';

/** The buffer's first size, and the least room offered to a read. */
const INITIAL_BYTES = 256 * 1024;
const MIN_READ = 64 * 1024;
/** A buffer grown past this for a large frame goes back to INITIAL_BYTES once it is read: it would pin that memory for the pipe's life. */
const MAX_KEPT_BYTES = 4 * 1024 * 1024;

export class FrameInput {
  readonly #onMessage: (message: unknown) => void;
  #buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  /** Bytes read and not yet decoded: [#start, #end). */
  #start = 0;
  #end = 0;
  readonly #refs: ReadRefs = new Map();
  /** Bytes of the buffer reads go into. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Reads so far: each is a turn of the event loop of its own. */
  reads = 0;

  constructor(onMessage: (message: unknown) => void) {
    this.#onMessage = onMessage;
  }

  /** For `new Socket({ fd, onread })`. */
  get onread(): OnReadOpts {
    return {
      buffer: () => this.#room(),
      callback: (n) => {
        this.#read(n);
        return true;
      },
    };
  }

  /** Bytes read by a socket of its own ('data' chunks): copied in, as a read into the buffer would put them. */
  push(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length; ) {
      const room = this.#room();
      const n = Math.min(room.length, chunk.length - at);
      room.set(chunk.subarray(at, at + n));
      at += n;
      this.#read(n);
    }
  }

  /** Where the next read goes: after what is buffered, with room for MIN_READ bytes or the whole frame. */
  #room(): Uint8Array {
    const buffered = this.#end - this.#start;
    let need = buffered + MIN_READ;
    if (buffered >= FRAME_HEADER) need = Math.max(need, FRAME_HEADER + this.#buf.readUInt32LE(this.#start));
    if (this.#start + need > this.#buf.length) {
      // Frames are multiples of 8 bytes: moved to offset 0, a frame stays aligned (see frame-layout.ts).
      const target =
        need > this.#buf.length ? Buffer.allocUnsafeSlow(Math.max(need, this.#buf.length * 2)) : this.#buf;
      this.#buf.copy(target, 0, this.#start, this.#end);
      this.#buf = target;
      this.#start = 0;
      this.#end = buffered;
    }
    // Everything read so far decoded (the usual case): the buffer itself, without a view made of it per read.
    return this.#end === 0 ? this.#buf : this.#buf.subarray(this.#end);
  }

  #read(n: number): void {
    this.reads++;
    this.#end += n;
    const buf = this.#buf;
    while (this.#end - this.#start >= FRAME_HEADER) {
      const length = buf.readUInt32LE(this.#start);
      const at = this.#start + FRAME_HEADER;
      if (this.#end - at < length) break;
      const format = buf[this.#start + 4]!;
      this.#start = at + length;
      this.#onMessage(decodeBody(format, buf, at, at + length, this.#refs, true));
    }
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
      // Nothing decoded keeps this memory (decodeBody's `transient`): it can go.
      if (this.#buf.length > MAX_KEPT_BYTES) this.#buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
    }
  }
}

/** A socket's libuv handle: not in @types/node. */
interface WithHandle {
  _handle: object | null;
}

/**
 * The parent's side: `child_process` makes the socket of a child's pipe, and
 * takes no `onread`. Its handle moves to a socket that reads into `input`
 * before any byte is read (reads are asynchronous: none happens before the
 * first turn of the event loop). The first socket, left without a handle,
 * closes when the new one does: `child_process` emits the child's 'close'
 * only once every pipe of the child has.
 */
export function readFramesFrom(socket: Socket, input: FrameInput): Socket {
  const handle = (socket as unknown as WithHandle)._handle;
  if (handle === null) return socket; // a stand-in for a child that was never spawned: nothing to read
  if (handle === undefined) {
    // A Node whose sockets keep their handle elsewhere: its chunks, copied in.
    socket.on('data', (chunk: Buffer) => input.push(chunk));
    return socket;
  }
  (socket as unknown as WithHandle)._handle = null;
  const options = { handle, readable: true, writable: false, onread: input.onread };
  const reading = new Socket(options as SocketConstructorOpts);
  if ((reading as unknown as WithHandle)._handle !== handle) {
    // A Node that did not take the handle (the option is not documented): the first socket keeps
    // it, and its chunks are copied in.
    (socket as unknown as WithHandle)._handle = handle;
    reading.destroy();
    socket.on('data', (chunk: Buffer) => input.push(chunk));
    return socket;
  }
  reading.once('close', () => socket.destroy());
  return reading;
}
