// Workload (g): image strips. A width x height RGBA Uint8ClampedArray cut in
// 16 horizontal strips; each task turns its strip (plus one halo row above
// and below where the image has one) to grayscale and box-blurs it 3x3,
// returning the strip's Uint8Array. Against the whole image in this process.
// Strips are passed as subarray views of the image, as slice copies (made
// inside the timing, as a user would), or as views of an image made with
// from() (already in shared memory).
import { from, release } from 'shmex';
import type { Checks } from '../lib/check.js';
import { type InterleavedResult, measureInterleaved } from '../lib/interleave.js';
import type { Variant } from '../lib/measure.js';
import { inProcessRunner, poolRunner } from '../lib/runner.js';
import { ShmexPool } from '../peers/shmex.js';
import { stripBlur } from '../workers/tasks.mjs';
import { WORKERS } from './big-arrays.js';

export const STRIP_VARIANTS = ['in-process', 'shmex-subarray', 'shmex-slice', 'shmex-from'] as const;
export const STRIPS = 16;

export interface StripsResult {
  width: number;
  height: number;
  imageMB: number;
  strips: number;
  variants: InterleavedResult[];
}

interface Strip {
  /** First and last row + 1 of the rows passed (the strip and its halo), and of the strip itself. */
  inFrom: number;
  inTo: number;
  rows: number;
  haloTop: number;
}

function stripsOf(height: number): Strip[] {
  const per = Math.ceil(height / STRIPS);
  return Array.from({ length: STRIPS }, (_, i) => {
    const r0 = i * per;
    const r1 = Math.min(height, r0 + per);
    const inFrom = Math.max(0, r0 - 1);
    return { inFrom, inTo: Math.min(height, r1 + 1), rows: r1 - r0, haloTop: r0 - inFrom };
  });
}

/** Order-sensitive digest of the output bytes, so a strip out of place or off by a row shows. */
function digest(parts: readonly Uint8Array[]): string {
  let sum = 0;
  let weighted = 0;
  let i = 0;
  for (const part of parts) {
    for (let j = 0; j < part.length; j++, i++) {
      sum += part[j]!;
      weighted = (weighted + part[j]! * ((i % 65_521) + 1)) % 2_147_483_647;
    }
  }
  return `${i}:${sum}:${weighted}`;
}

export async function runStrips(
  prefix: string,
  size: { width: number; height: number },
  plan: { warmupCalls: number; rounds: number },
  checks: Checks,
): Promise<StripsResult> {
  const { width, height } = size;
  const image = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < image.length; i++) image[i] = (i * 7 + (i >>> 11) * 13) & 255;
  const imageShm = from(Uint8ClampedArray, image);
  const rowBytes = width * 4;
  const strips = stripsOf(height);
  const expected = digest([stripBlur(image, width, 0, height)]);
  const check = (parts: unknown): string | undefined => {
    const list = Array.isArray(parts) ? parts : [parts];
    if (!list.every((p) => p instanceof Uint8Array)) return 'expected Uint8Arrays';
    const got = digest(list as Uint8Array[]);
    return got === expected ? undefined : `digest ${got}, expected ${expected}`;
  };
  const split = (
    id: string,
    label: string,
    cut: (s: Strip) => Uint8ClampedArray,
    note?: string,
  ): Variant => ({
    id,
    label,
    ...(note === undefined ? {} : { note }),
    open: () =>
      poolRunner(
        () => new ShmexPool(WORKERS),
        (p) =>
          Promise.all(
            strips.map((s) =>
              Promise.resolve(p.ex.submit(p.tasks.stripBlur, cut(s), width, s.haloTop, s.rows)),
            ),
          ),
        check,
      ),
  });
  const variants: Variant[] = [
    {
      id: 'in-process',
      label: 'in-process, whole image, one thread',
      open: () => inProcessRunner(() => stripBlur(image, width, 0, height), check),
    },
    split('shmex-subarray', `shmex, ${STRIPS} subarray strips of a heap image`, (s) =>
      image.subarray(s.inFrom * rowBytes, s.inTo * rowBytes),
    ),
    split(
      'shmex-slice',
      `shmex, ${STRIPS} slice strips (copied inside the timing)`,
      (s) => image.slice(s.inFrom * rowBytes, s.inTo * rowBytes),
      'each call slices the strips out of the image (inside the timing), as a user would',
    ),
    split(
      'shmex-from',
      `shmex, ${STRIPS} subarray strips of an image made with from()`,
      (s) => imageShm.subarray(s.inFrom * rowBytes, s.inTo * rowBytes),
      'the image is copied once with from(Uint8ClampedArray, image) before measuring (not timed)',
    ),
  ];
  try {
    return {
      width,
      height,
      imageMB: image.length / 1e6,
      strips: STRIPS,
      // A garbage collection, then an untimed call of the same row, before each timed call: the
      // in-process call leaves 32 MB of dead arrays and the slice row 64 MB, which V8 otherwise
      // collects during the next row's call (10 to 45 ms of this process's main thread, while
      // that row's workers wait for it); a caller running one of these alone would not pay for
      // the others' garbage, but pays for its own (the untimed call's), as the timed call does.
      variants: await measureInterleaved(
        prefix,
        variants,
        { ...plan, collectBetween: true, pairCalls: true },
        checks,
      ),
    };
  } finally {
    release(imageShm);
  }
}
