// What travels between processes about segments: a buffer's reference in a
// payload, and the control messages of holds (see hold-ledger.ts).

/**
 * How the receiver maps a segment: 'copy' (a copy made for it alone),
 * 'private' (a segment someone else uses too: mapped copy-on-write) or
 * 'shared' (by reference: writes reach everyone).
 */
export type SegmentMode = 'copy' | 'private' | 'shared';

/** What travels in a payload for one buffer. */
export interface SegmentRef {
  name: string;
  capacity: number;
  /** Where the data starts (after the .npy header) and how long it is, as the header says. */
  dataOffset: number;
  byteLength: number;
  /**
   * The bytes of the data the receiver's buffer holds, [start, start + length):
   * the covering range of the views sent, so a receiver maps only those pages.
   */
  start: number;
  length: number;
  mode: SegmentMode;
}

export interface SegmentControl {
  type: 'free' | 'hold' | 'trimmed';
  names: string[];
  /** For a 'hold' a worker takes for the result of this task (see EncodeOptions.holdTag). */
  task?: number;
}

/** Another process this one exchanges segments with. */
export interface Peer {
  readonly pid: number | undefined;
  sendControl(message: SegmentControl): void;
}
