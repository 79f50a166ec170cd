// What `shmex ls` shows of a segment: owner, liveness, size, age, and the
// dtype and shape its .npy header declares (when it has one).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpyHeader } from '../shm/npy-header.js';
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

/** Enough for the header of any segment but one of a record type with thousands of fields. */
const HEADER_PEEK = 64 * 1024;

/** A parsed descr as numpy prints it: '<f8', or [('x', '<f8'), ('id', '<i4')] for records. */
function showDescr(descr: unknown, top = true): string {
  if (typeof descr === 'string') return top ? descr : `'${descr}'`;
  if (Array.isArray(descr)) return `[${descr.map((d) => showDescr(d, false)).join(', ')}]`;
  const items = (descr as { items?: unknown[] } | null)?.items; // a Python tuple
  if (Array.isArray(items)) return `(${items.map((d) => showDescr(d, false)).join(', ')})`;
  return String(descr);
}

/** The dtype and shape of a .npy header at the start of `bytes`, or undefined if there is none. */
export function peekNpyHeader(bytes: Uint8Array): { dtype: string; shape: number[] } | undefined {
  try {
    const header = parseNpyHeader(bytes);
    return { dtype: showDescr(header.descr), shape: [...header.shape] };
  } catch {
    return undefined; // not a segment header (or one too long to peek at)
  }
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
