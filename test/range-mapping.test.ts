// Mapping part of a segment: native.map maps the pages that cover a byte
// range at any offset (mmap takes page-aligned file offsets) and keeps its
// checks (the range within the file), counted as V8 external memory once;
// SegmentStore.attach maps a range of a segment's data copy-on-write without
// touching the file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { native } from '../dist/shm/native.js';
import { npyHeaderLength, quoteDescr, writeNpyHeader } from '../dist/shm/npy-header.js';
import { newSegmentName } from '../dist/shm/segment-names.js';
import { SegmentStore } from '../dist/shm/segment-store.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const PAGE = 4096;

/** A segment of `pages` pages whose byte i is i % 251, with a .npy header describing its data as bytes. */
function makeSegment(
  store: SegmentStore,
  pages: number,
): { name: string; dataOffset: number; dataLength: number } {
  const name = newSegmentName();
  const mapping = store.create(name, pages * PAGE);
  const layout = { descr: quoteDescr('|u1'), shape: [pages * PAGE - 128] };
  const dataOffset = npyHeaderLength(layout);
  assert.equal(dataOffset, 128);
  const bytes = new Uint8Array(mapping);
  for (let i = dataOffset; i < bytes.length; i++) bytes[i] = i % 251;
  writeNpyHeader(bytes.subarray(0, dataOffset), layout);
  native.release(mapping);
  return { name, dataOffset, dataLength: layout.shape[0]! };
}

test('native.map maps the pages around a range at any offset, and only the range is seen', () => {
  const store = new SegmentStore();
  const { name } = makeSegment(store, 8);
  const fd = native.open(store.path(name), false);
  try {
    for (const [offset, length] of [
      [3 * PAGE + 17, 5000],
      [PAGE, PAGE],
      [8 * PAGE - 1, 1],
      [8 * PAGE, 0], // empty, at the very end
      [5, 0],
    ] as const) {
      const buffer = native.map(fd, offset, length, false, true);
      assert.equal(buffer.byteLength, length);
      const bytes = new Uint8Array(buffer);
      for (let i = 0; i < length; i += 97) assert.equal(bytes[i], (offset + i) % 251, `byte ${offset + i}`);
      assert.equal(native.release(buffer), true);
    }
    assert.throws(() => native.map(fd, 8 * PAGE - 10, 11, false, true), { code: 'EINVAL' });
    assert.throws(() => native.map(fd, 8 * PAGE + 1, 0, false, true), { code: 'EINVAL' });
  } finally {
    native.close(fd);
    store.remove([name]);
  }
});

test('a mapping and a view of it count their byteLength once as V8 external memory, until released', () => {
  const store = new SegmentStore();
  const { name, dataOffset } = makeSegment(store, 16);
  const fd = native.open(store.path(name), true);
  try {
    // Node adds about a hundred bytes of its own per external ArrayBuffer (its finalizer's record).
    const e0 = native.externalMemory();
    const counted = (expected: number, what: string): void => {
      const got = native.externalMemory() - e0;
      assert.ok(got >= expected && got < expected + 1024, `${what}: ${got} bytes, expected ${expected}`);
    };
    const mapping = native.map(fd, dataOffset, 8 * PAGE, true, false);
    counted(8 * PAGE, 'the mapping, once');
    const view = native.view(mapping, PAGE, 2 * PAGE);
    counted(10 * PAGE, 'and the view, once');
    assert.equal(new Uint8Array(view)[0], (dataOffset + PAGE) % 251);
    assert.equal(native.release(view), true);
    counted(8 * PAGE, 'the view released');
    assert.equal(native.release(mapping), true);
    assert.equal(native.release(mapping), false, 'released once');
    counted(0, 'both released');
    native.map(fd, dataOffset, PAGE, true, true); // dropped: its finalizer unmaps it
  } finally {
    native.close(fd);
    store.remove([name]);
  }
});

test('SegmentStore.attach maps a range of the data copy-on-write; the file keeps its bytes', () => {
  const store = new SegmentStore();
  const { name, dataOffset, dataLength } = makeSegment(store, 16);
  try {
    const start = 5 * PAGE + 8;
    const part = store.attach(name, dataOffset, dataLength, true, { start, length: 3 * PAGE });
    const bytes = new Uint8Array(part);
    assert.equal(bytes[0], (dataOffset + start) % 251);
    bytes.fill(0);
    const file = readFileSync(store.path(name));
    assert.equal(file[dataOffset + start], (dataOffset + start) % 251, 'the write stayed private');
    native.release(part);
    assert.throws(
      () => store.attach(name, dataOffset, dataLength, true, { start: dataLength - 8, length: 16 }),
      {
        code: 'ERR_SHMEX_SHARED_MEMORY',
      },
    );
  } finally {
    store.remove([name]);
  }
});

test('write, fill and view reach a whole mapping past its window, within its bounds, and never write a read-only one', () => {
  const MB = 1 << 20;
  const path = `${process.env.SHMEX_SHM_DIR ?? '/dev/shm'}/${newSegmentName()}`;
  const mapping = native.create(path, MB, MB, 0); // a window of nothing: every byte past it
  try {
    assert.equal(mapping.byteLength, 0);
    native.write(mapping, MB - 2, new Uint8Array([7, 9]));
    assert.deepEqual([...new Uint8Array(native.view(mapping, MB - 2, 2))], [7, 9]);
    native.fill(mapping, MB - 2, 1);
    assert.deepEqual([...new Uint8Array(native.view(mapping, MB - 2, 2))], [0, 9]);
    for (const outside of [
      () => native.write(mapping, MB - 1, new Uint8Array(2)),
      () => native.fill(mapping, 0, MB + 1),
      () => native.fill(mapping, 2 ** 53 - 1, 1),
      () => native.view(mapping, MB - 8, 16),
      () => native.write(new ArrayBuffer(8), 4, new Uint8Array(8)),
    ])
      assert.throws(outside, RangeError);
    const fd = native.open(path, true);
    try {
      const readOnly = native.map(fd, 0, 8192, false, false, 16);
      assert.equal(new Uint8Array(native.view(readOnly, 0, 4))[0], 0);
      assert.throws(() => native.write(readOnly, 100, new Uint8Array([1])), { code: 'EACCES' });
      assert.throws(() => native.fill(readOnly, 0, 1), { code: 'EACCES' });
      native.release(readOnly);
    } finally {
      native.close(fd);
    }
  } finally {
    native.release(mapping);
    native.unlink(path);
  }
});
