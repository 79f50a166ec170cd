// Writing and reading the bytes of a frame: a growing buffer with the
// frame's header in front (FrameWriter), and a cursor over a body
// (FrameCursor). The layouts of the messages are in frame-layout.ts.

/** Views written by reference at most, in one frame: a gathering write takes 1024 pieces (IOV_MAX). */
const MAX_BY_REFERENCE = 256;

/**
 * The built-in constructor, taken before a worker replaces the global one
 * (worker/shared-arrays.ts): the replacement, a JavaScript function with rest
 * arguments, cost each task's argument about 0.2 µs more to read.
 */
const U8 = Uint8Array;

/**
 * Writes a frame: header (length, format), then the body, padded to 8 bytes.
 * With `gatherBytes`, views of that many bytes or more are not copied into
 * the frame's memory: the frame is then the list of its pieces (parts()),
 * written with one gathering write while those views are unchanged.
 */
export class FrameWriter {
  buf: Buffer;
  /** Where the next byte goes in `buf`. */
  pos: number;
  /** Pieces of the frame before buf[#cut, pos): parts of earlier memory, and views written by reference. */
  #pieces: Uint8Array[] | undefined;
  #cut = 0;
  /** Bytes of views written by reference: the frame's length is pos + gathered. */
  #gathered = 0;
  readonly #gatherBytes: number;

  /** `scratch`: memory of an earlier frame, already written, to reuse if large enough. */
  constructor(estimate: number, header: number, scratch?: Buffer, gatherBytes = Number.POSITIVE_INFINITY) {
    const size = estimate + header;
    // Never from Node's shared pool: the memory may be reused for the next frame (see FrameOutput).
    this.buf = scratch !== undefined && scratch.length >= size ? scratch : Buffer.allocUnsafeSlow(size);
    this.pos = header;
    this.#pieces = undefined;
    this.#gatherBytes = gatherBytes;
  }

  /** Bytes of the frame written so far, views written by reference included. */
  get length(): number {
    return this.pos + this.#gathered;
  }

  /** The frame's pieces in order, if views were written by reference; else undefined (it is buf[0, pos)). */
  parts(): Uint8Array[] | undefined {
    const pieces = this.#pieces;
    if (pieces === undefined) return undefined;
    pieces.push(this.buf.subarray(this.#cut, this.pos));
    return pieces;
  }

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }

  f64(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  str(s: string): void {
    this.room(4 + s.length * 3);
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }

  align(): void {
    const pad = (8 - ((this.pos + this.#gathered) % 8)) % 8;
    this.room(pad);
    // At most 7 bytes: a loop, not fill(), which calls into C++ for them.
    for (let i = 0; i < pad; i++) this.buf[this.pos++] = 0;
  }

  bytes(view: ArrayBufferView): void {
    const n = view.byteLength;
    this.u32(n);
    this.align();
    if (n >= this.#gatherBytes && (this.#pieces?.length ?? 0) < 2 * MAX_BY_REFERENCE) {
      const pieces = this.#pieces ?? [];
      this.#pieces = pieces;
      pieces.push(this.buf.subarray(this.#cut, this.pos), new U8(view.buffer, view.byteOffset, n));
      this.#cut = this.pos;
      this.#gathered += n;
      return;
    }
    this.room(n);
    this.buf.set(new U8(view.buffer, view.byteOffset, view.byteLength), this.pos);
    this.pos += view.byteLength;
  }
}

/**
 * Reads a body written by FrameWriter: `buf[start, end)`, read where it lies
 * (a reader's buffer of frames: no view of it made per frame).
 */
export class FrameCursor {
  readonly buf: Buffer;
  pos: number;
  readonly #start: number;
  readonly #end: number;
  /**
   * The body's memory is read into again once it is decoded (FrameInput):
   * what is read from it (views, payload bytes) is copied out into buffers of
   * its own, and the receiver need not copy it again.
   */
  readonly transient: boolean;

  constructor(buf: Buffer, transient = false, start = 0, end = buf.length) {
    this.buf = buf;
    this.transient = transient;
    this.pos = start;
    this.#start = start;
    this.#end = end;
  }

  u8(): number {
    return this.buf[this.pos++]!;
  }

  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  str(): string {
    const n = this.u32();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** To 8 bytes from the body's start. */
  align(): void {
    this.pos += (8 - ((this.pos - this.#start) % 8)) % 8;
  }

  /**
   * `n` bytes as a Uint8Array over the body's memory (aligned to 8 from the
   * body's start), or, if the body is transient, over a buffer of their own
   * (from offset 0).
   */
  bytes(): Uint8Array {
    if (!this.transient) {
      const n = this.u32();
      const from = this.#skip(n);
      return new U8(this.buf.buffer, this.buf.byteOffset + from, n);
    }
    return new U8(this.ownBytes());
  }

  /** For a transient body: the bytes() as an ArrayBuffer of their own, which no view was made over yet. */
  ownBytes(): ArrayBuffer {
    const n = this.u32();
    const from = this.#skip(n);
    // Not zero-filled first: every byte is written next.
    const own = Buffer.allocUnsafeSlow(n);
    this.buf.copy(own, 0, from, from + n);
    return own.buffer as ArrayBuffer;
  }

  /** Where `n` bytes aligned to 8 start; the cursor moves past them. */
  #skip(n: number): number {
    this.align();
    const from = this.pos;
    if (from + n > this.#end) throw new RangeError('shmex channel: a frame is cut short');
    this.pos += n;
    return from;
  }
}
