// What `shmex ls` shows of a segment: owner, liveness, size, age, and the
// dtype and shape its .npy header declares (when it has one).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isOwnerAlive, parseSegmentName } from '../shm/segment-names.js';

export interface SegmentInfo {
  name: string;
  pid: number;
  alive: boolean;
  bytes: number;
  /** Seconds since the segment was last written. */
  ageSeconds: number;
  /** numpy dtype ('<f8', or a structured dtype literal), if the header says. */
  dtype?: string;
  shape?: number[];
}

const MAGIC = '\x93NUMPY';
const HEADER_PEEK = 4096;

/** The dtype and shape of a .npy header at the start of `bytes`, or undefined if there is none. */
export function peekNpyHeader(bytes: Buffer): { dtype: string; shape: number[] } | undefined {
  if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== MAGIC || bytes[6] !== 1) return undefined;
  const length = bytes.readUInt16LE(8);
  if (10 + length > bytes.length) return undefined;
  const text = bytes.toString('latin1', 10, 10 + length);
  const descr = /'descr': ('[^']*'|\[.*\])\s*,\s*'fortran_order'/.exec(text)?.[1];
  const shape = /'shape': \(([\d, ]*)\)/.exec(text)?.[1];
  if (descr === undefined || shape === undefined) return undefined;
  return {
    dtype: descr.startsWith("'") ? descr.slice(1, -1) : descr,
    shape: shape
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map(Number),
  };
}

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(HEADER_PEEK);
    return head.subarray(0, readSync(fd, head, 0, HEADER_PEEK, 0));
  } finally {
    closeSync(fd);
  }
}

/** Facts about segment `name` in `dir`, or undefined if it vanished meanwhile. */
export function segmentInfo(dir: string, name: string, now = Date.now()): SegmentInfo | undefined {
  const owner = parseSegmentName(name);
  if (owner === undefined) return undefined;
  const path = join(dir, name);
  try {
    const stat = statSync(path);
    let header: ReturnType<typeof peekNpyHeader>;
    try {
      header = peekNpyHeader(readHead(path));
    } catch {
      header = undefined; // mode 0600 segments of another user: listed without their header
    }
    return {
      name,
      pid: owner.pid,
      alive: isOwnerAlive(owner),
      bytes: stat.size,
      ageSeconds: Math.max(0, (now - stat.mtimeMs) / 1000),
      ...(header === undefined ? {} : { dtype: header.dtype, shape: header.shape }),
    };
  } catch {
    return undefined;
  }
}
