// The native boundary without worker processes: the one errno table
// (shm/native-errors.ts) words each code for each operation, and the store
// maps a file through the one descriptor it checked (shm/open-file.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SharedMemoryError } from 'shmex';
import { native } from '../dist/shm/native.js';
import { explainNativeError, type SegmentOperation } from '../dist/shm/native-errors.js';
import { openFile } from '../dist/shm/open-file.js';
import { newSegmentName } from '../dist/shm/segment-names.js';
import { SegmentStore } from '../dist/shm/segment-store.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const root = mkdtempSync(join(tmpdir(), 'shmex-native-'));
after(() => rmSync(root, { recursive: true, force: true }));

const NAME = 'shmex.1.1.0123456789abcdef01234567';
const CREATE: SegmentOperation = { op: 'create', dir: '/nowhere', name: NAME, capacity: 65536 };
const MAP: SegmentOperation = { op: 'map', dir: '/nowhere', name: NAME };

function errnoError(code: string, syscall = 'open'): Error {
  return Object.assign(new Error(`message of ${code}`), { code, syscall });
}

test('one table: each code has the hint of its operation, or none', () => {
  const cases: Array<[string, SegmentOperation, RegExp | undefined]> = [
    ['ENOSPC', CREATE, /directory \/nowhere is full: release\(\) arrays .*shmClear\(\).*shmDir/],
    ['EDQUOT', CREATE, /is full/],
    ['EFBIG', CREATE, /65536 bytes is more than this process may write to one file \(ulimit -f\)/],
    ['ENOENT', CREATE, /does not exist or is not a directory/],
    ['ENOTDIR', CREATE, /does not exist or is not a directory/],
    ['EACCES', CREATE, /may not create files in the shared-memory directory \/nowhere: make it writable/],
    ['EPERM', CREATE, /may not create files/],
    ['EROFS', CREATE, /may not create files/],
    ['EEXIST', CREATE, new RegExp(`A file named ${NAME} is already there`)],
    ['ENOMEM', CREATE, /cannot map 65536 more bytes: its address space limit \(ulimit -v\)/],
    ['EMFILE', CREATE, /No file descriptor is left \(ulimit -n\)/],
    ['ENFILE', CREATE, /No file descriptor is left/],
    ['EIO', CREATE, undefined],
    ['ENOSPC', MAP, /directory \/nowhere is full: free space there/],
    ['EFBIG', MAP, /is full: free space there/],
    ['ENOENT', MAP, /The segment is gone: its owner removed it or died\./],
    ['ENOMEM', MAP, /ran out of file descriptors or mappings/],
    ['EMFILE', MAP, /ran out of file descriptors or mappings/],
    ['ENFILE', MAP, /ran out of file descriptors or mappings/],
    ['EACCES', MAP, undefined],
    ['EEXIST', MAP, undefined],
  ];
  for (const [code, at, hint] of cases) {
    const cause = errnoError(code);
    const error = explainNativeError(cause, at);
    assert.ok(error instanceof SharedMemoryError);
    assert.equal(error.errno, code);
    assert.equal(error.syscall, 'open');
    assert.equal(error.cause, cause);
    const what =
      at.op === 'create'
        ? `cannot create a shared-memory segment of 65536 bytes in /nowhere: message of ${code} (${code}).`
        : `cannot map shared-memory segment ${NAME}: message of ${code} (${code}).`;
    assert.ok(error.message.startsWith(what), `${code} ${at.op}: ${error.message}`);
    if (hint === undefined) assert.equal(error.message, what, `${code} ${at.op}: no hint`);
    else assert.match(error.message.slice(what.length), hint, `${code} ${at.op}`);
  }
  assert.equal(explainNativeError(new Error('odd'), MAP).errno, 'EUNKNOWN');
});

test('store.create, link and remove: a new segment, a second name, both gone; failures explained', () => {
  const dir = mkdtempSync(join(root, 'create-'));
  const store = new SegmentStore(dir);
  const name = newSegmentName();
  const mapping = store.create(name, 1 << 16);
  assert.equal(mapping.byteLength, 1 << 16);
  assert.throws(
    () => store.create(name, 1 << 16),
    (e: unknown) => e instanceof SharedMemoryError && e.errno === 'EEXIST' && /already there/.test(e.message),
  );
  // A second name: the first with another last digit.
  const second = `${name.slice(0, -1)}${name.endsWith('0') ? '1' : '0'}`;
  store.link(name, second);
  assert.equal(readdirSync(dir).length, 2);
  store.remove([name, second]);
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(native.release(mapping), true);
  assert.throws(
    () => new SegmentStore(join(dir, 'missing')).create(newSegmentName(), 1 << 16),
    (e: unknown) =>
      e instanceof SharedMemoryError && e.errno === 'ENOENT' && /does not exist/.test(e.message),
  );
});

test('attach maps the file it checked: a name replaced after open() does not change the mapping', () => {
  const dir = mkdtempSync(join(root, 'attach-'));
  const path = join(dir, NAME);
  writeFileSync(path, Buffer.alloc(4096, 1), { mode: 0o600 });
  const opened = openFile(path, false);
  assert.ok(opened.ok);
  try {
    assert.ok(opened.stat.isFile());
    // The name now leads elsewhere; the descriptor still holds the file that was checked.
    rmSync(path);
    writeFileSync(path, Buffer.alloc(8192, 2), { mode: 0o600 });
    const mapping = native.map(opened.fd, 0, 4096, false, false);
    assert.equal(mapping.byteLength, 4096);
    assert.ok(new Uint8Array(mapping).every((b) => b === 1));
    native.release(mapping);
    assert.throws(() => native.map(opened.fd, 0, 4097, false, false), { code: 'EINVAL' });
  } finally {
    native.close(opened.fd);
  }
  const missing = openFile(join(dir, 'shmex.1.1.ffffffffffffffffffffffff'), false);
  assert.ok(!missing.ok);
  assert.equal(missing.code, 'ENOENT');
  assert.equal(missing.kind, undefined);
  const directory = openFile(dir, true);
  assert.ok(!directory.ok);
  assert.equal(directory.kind, 'a directory');
});
