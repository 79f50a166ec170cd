// Hostile input to the attach path. Segment names (and the .npy headers of
// the files they name) arrive from other processes: whatever they are, the
// receiver must refuse them with a SharedMemoryError (or, for a payload that
// is not one, ERR_SHMEX_MALFORMED_PAYLOAD) that says why, never open a file
// outside the shared-memory directory, never follow a symbolic link, never
// block on a FIFO, never crash. Tested on the internal functions that turn a
// name into a mapping (segment-names, npy-header, SegmentStore.attach,
// decode), then end to end through a worker that sends forged messages.
//
// Everything happens in a temporary directory standing in for /dev/shm.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Serializer } from 'node:v8';
import { type ModuleTasks, ProcessPoolExecutor, RecordLayout, SharedMemoryError, ShmexError } from 'shmex';
import { native } from '../dist/shm/native.js';
import {
  MAX_NPY_HEADER_LENGTH,
  type NpyLayout,
  npyHeaderLength,
  parseNpyHeader,
  writeNpyHeader,
} from '../dist/shm/npy-header.js';
import { type Peer, SegmentBook, type SegmentControl } from '../dist/shm/segment-book.js';
import { newSegmentName, parseSegmentName, requireSegmentName } from '../dist/shm/segment-names.js';
import { SegmentStore } from '../dist/shm/segment-store.js';
import { decode } from '../dist/transfer/decode.js';
import { BUFFER_SEGMENT, ROOT_VALUE, TAG_VIEW, WIRE_VERSION } from '../dist/transfer/wire.js';
import type * as Hostile from './fixtures/hostile-tasks.js';
import { type ForgedRef, forgePayload } from './fixtures/hostile-tasks.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const HEX = '0123456789abcdef01234567';
const OWNER = 4_200_000; // above any pid_max (2 ** 22): no live process owns these names
/** A valid name, distinct for each tag of up to 12 characters. */
const fakeName = (tag: string) => `shmex.${OWNER}.1.${(Buffer.from(tag).toString('hex') + HEX).slice(0, 24)}`;

let root: string;
/** The stand-in for /dev/shm. */
let dir: string;
let store: SegmentStore;
/** A valid segment outside `dir`, which no name may reach. */
let outside: string;
let outsideBytes: Buffer;

const F64_LAYOUT: NpyLayout = { descr: "'<f8'", shape: [4] };
const F64_DATA = Float64Array.of(1.5, -0, Number.NaN, 4);

/** The bytes of a segment file as shmex writes one: header, data, then free space up to `capacity`. */
function segmentBytes(layout: NpyLayout, data: ArrayBufferView, capacity = 4096): Buffer {
  const offset = npyHeaderLength(layout);
  const bytes = Buffer.alloc(Math.max(capacity, offset + data.byteLength));
  writeNpyHeader(bytes, layout);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
  return bytes;
}

/** A header of any text: prefix (magic, version, length), `text`, padding and a newline (unless told otherwise). */
function rawHeader(
  text: string,
  { magic = '\x93NUMPY', version = 1, newline = true, length }: Record<string, unknown> = {},
): Buffer {
  const prefix = version === 1 ? 10 : 12;
  const total = Math.ceil((prefix + text.length + 1) / 64) * 64;
  const bytes = Buffer.alloc(total, 0x20);
  bytes.write(magic as string, 0, 'latin1');
  bytes[6] = version as number;
  bytes[7] = 0;
  const announced = (length as number | undefined) ?? total - prefix;
  if (version === 1) bytes.writeUInt16LE(announced & 0xffff, 8);
  else bytes.writeUInt32LE(announced, 8);
  bytes.write(text, prefix, 'latin1');
  if (newline) bytes[total - 1] = 0x0a;
  return bytes;
}

function writeSegment(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  rmSync(path, { force: true, recursive: true });
  writeFileSync(path, bytes, { mode: 0o600 });
  return path;
}

/** The error `fn` throws, checked to be a SharedMemoryError. */
function refusal(fn: () => unknown, errno: string | RegExp, message: RegExp): SharedMemoryError {
  let error: unknown;
  try {
    const mapped = fn();
    if (mapped instanceof ArrayBuffer) native.release(mapped);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof SharedMemoryError, `expected a SharedMemoryError, got ${String(error)}`);
  assert.ok(error instanceof ShmexError);
  assert.equal(error.code, 'ERR_SHMEX_SHARED_MEMORY');
  assert.match(String(error.errno), errno instanceof RegExp ? errno : new RegExp(`^${errno}$`));
  assert.match(error.message, message);
  return error;
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'shmex-hostile-'));
  dir = join(root, 'shm');
  mkdirSync(dir);
  store = new SegmentStore(dir);
  outsideBytes = segmentBytes(F64_LAYOUT, F64_DATA);
  outside = join(root, 'evil');
  writeFileSync(outside, outsideBytes, { mode: 0o600 });
});

after(() => {
  assert.ok(readFileSync(outside).equals(outsideBytes), 'the file outside the directory was changed');
  rmSync(root, { recursive: true, force: true });
});

describe('segment names', () => {
  const BAD: unknown[] = [
    '',
    '.',
    '..',
    '/',
    '/etc/passwd',
    '../evil',
    '../../../../etc/passwd',
    `../shm/${fakeName('a')}`,
    `${fakeName('a')}/`,
    `${fakeName('a')}/..`,
    `./${fakeName('a')}`,
    `/dev/shm/${fakeName('a')}`,
    `${fakeName('a')}\0`,
    `shmex.1.1.${HEX}\0../../etc/passwd`,
    '\0',
    `${fakeName('a')}\n`,
    `\n${fakeName('a')}`,
    ` ${fakeName('a')}`,
    `shmex.1.1.${HEX.slice(1)}`, // 23 hex digits
    `shmex.1.1.${HEX}0`, // 25
    `shmex.1.1.${HEX.toUpperCase()}`,
    `shmex.1.1.${HEX.replace('a', 'g')}`,
    `SHMEX.1.1.${HEX}`,
    `shmex.-1.1.${HEX}`,
    `shmex.1.-1.${HEX}`,
    `shmex..1.${HEX}`,
    `shmex.1.1.1.${HEX}`,
    `shmex.12345678901.1.${HEX}`, // an 11-digit pid
    `shmex.1.${'1'.repeat(21)}.${HEX}`,
    `shmex.\u0663.1.${HEX}`, // an Arabic-Indic digit
    `shmex\u20241.1.${HEX}`, // a one-dot leader, not a dot
    `shmex.1.1.${HEX}${'a'.repeat(5000)}`,
    // forged thread names: the thread part is t<threadId>, 1 to 10 digits without a leading zero
    `shmex.1.1.t.${HEX}`,
    `shmex.1.1.t0.${HEX}`,
    `shmex.1.1.t01.${HEX}`,
    `shmex.1.1.t-1.${HEX}`,
    `shmex.1.1.T1.${HEX}`,
    `shmex.1.1.tt1.${HEX}`,
    `shmex.1.1.t1.t2.${HEX}`,
    `shmex.1.1.t12345678901.${HEX}`,
    `shmex.1.1.t1${HEX}`,
    `shmex.1.1.t1..${HEX}`,
    `shmex.1.1.t1.${HEX.slice(1)}`,
    `shmex.1.t1.1.${HEX}`,
    `shmex.1.1.t1/../${HEX}`,
    'x'.repeat(70_000),
    undefined,
    null,
    42,
    { toString: () => fakeName('a') },
  ];

  test('anything but shmex.<pid>.<start>.[t<thread>.]<24 hex digits> is refused with a clear, escaped message', () => {
    for (const name of BAD) {
      assert.equal(parseSegmentName(name as string), undefined, `parseSegmentName(${JSON.stringify(name)})`);
      const error = refusal(() => requireSegmentName(name), 'EINVAL', /not a shmex segment name/);
      assert.ok(error.message.length < 400, 'an over-long name is cut short in the message');
      assert.doesNotMatch(error.message, /\0|\n/, 'NUL and newlines are escaped');
      refusal(() => store.path(name as string), 'EINVAL', /not a shmex segment name/);
      refusal(() => store.attach(name as string, 0, 8, false), 'EINVAL', /not a shmex segment name/);
      refusal(() => store.attach(name as string, 128, 8, true), 'EINVAL', /not a shmex segment name/);
    }
    const shown = refusal(() => requireSegmentName(`${fakeName('a')}\0x`), 'EINVAL', /\\u0000/);
    assert.match(shown.message, new RegExp(fakeName('a')));
  });

  test('valid names pass, and only they are joined to the directory', () => {
    for (const name of [newSegmentName(), `shmex.4294967295.${'9'.repeat(20)}.${HEX}`, fakeName('b')]) {
      assert.notEqual(parseSegmentName(name), undefined);
      assert.equal(store.path(name), join(dir, name));
    }
    assert.deepEqual(requireSegmentName(`shmex.12.345.${HEX}`), { pid: 12, start: '345' });
  });

  test("a worker thread's names pass and say which thread of which process made them", () => {
    const owner = { pid: 12, start: '345', thread: 7 };
    assert.deepEqual(requireSegmentName(`shmex.12.345.t7.${HEX}`), owner);
    assert.deepEqual(requireSegmentName(`shmex.12.345.t4294967295.${HEX}`), { ...owner, thread: 4294967295 });
    const made = newSegmentName(owner);
    assert.match(made, /^shmex\.12\.345\.t7\.[0-9a-f]{24}$/);
    assert.deepEqual(parseSegmentName(made), owner);
    assert.equal(store.path(made), join(dir, made));
  });

  test('a name that would reach a real file outside the directory is refused, not mapped, not removed', () => {
    assert.ok(existsSync(join(dir, '../evil')));
    refusal(() => store.attach('../evil', 0, 64, false), 'EINVAL', /not a shmex segment name/);
    refusal(() => store.attach('../evil', npyHeaderLength(F64_LAYOUT), 32, true), 'EINVAL', /not a shmex/);
    store.remove(['../evil', '../../etc/passwd', '', '/', `../shm/../evil`]);
    assert.ok(existsSync(outside), 'remove() must skip names that are not segment names');
  });
});

describe('files that are not segments, under valid names', () => {
  const offset = npyHeaderLength(F64_LAYOUT);

  test('a symbolic link is never followed: to /etc/passwd, or to a valid segment elsewhere', () => {
    for (const [tag, target] of [
      ['passwd', '/etc/passwd'],
      ['segment', outside],
      ['dangling', join(root, 'nowhere')],
    ] as const) {
      const name = fakeName(tag);
      symlinkSync(target, join(dir, name));
      for (const [off, len, priv] of [
        [0, 16, false],
        [0, 16, true],
        [offset, 32, true],
        [offset, 32, false],
      ] as const) {
        refusal(() => store.attach(name, off, len, priv), 'ELOOP', /symbolic link/);
      }
    }
  });

  test('a directory, an empty file, and ranges past the end are refused', () => {
    const name = fakeName('dir');
    mkdirSync(join(dir, name));
    refusal(() => store.attach(name, 0, 16, false), /^(EINVAL|EISDIR)$/, /a directory, not a regular file/);
    refusal(() => store.attach(name, offset, 32, true), /^(EINVAL|EISDIR)$/, /a directory/);
    const empty = fakeName('empty');
    writeSegment(empty, new Uint8Array(0));
    refusal(() => store.attach(empty, 0, 0, false), 'EINVAL', /beyond its 0 bytes/);
    const good = fakeName('good');
    const size = 4096;
    writeSegment(good, segmentBytes(F64_LAYOUT, F64_DATA, size));
    refusal(() => store.attach(good, 0, size + 1, false), 'EINVAL', /beyond its 4096 bytes/);
    refusal(() => store.attach(good, offset, size, true), 'EINVAL', /beyond its 4096 bytes/);
    refusal(() => store.attach(good, size + 64, 0, true), 'EINVAL', /beyond/);
    for (const [off, len] of [
      [-1, 8],
      [offset, -8],
      [Number.NaN, 8],
      [offset, Number.POSITIVE_INFINITY],
      [offset + 0.5, 8],
      [2 ** 60, 8],
      ['64', 8],
    ]) {
      refusal(() => store.attach(good, off as number, len as number, true), 'EINVAL', /bad byte range/);
    }
  });

  test('a FIFO is refused at once, not waited on (checked in a child process, which would hang)', () => {
    const name = fakeName('fifo');
    const made = spawnSync('mkfifo', [join(dir, name)]);
    if (made.status !== 0) return; // no mkfifo here
    const storeUrl = new URL('../dist/shm/segment-store.js', import.meta.url).href;
    const script = `
      const { SegmentStore } = await import(${JSON.stringify(storeUrl)});
      const store = new SegmentStore(${JSON.stringify(dir)});
      const out = [];
      for (const [off, len, priv] of [[0, 1, false], [0, 1, true], [${offset}, 32, true], [${offset}, 32, false]]) {
        try { store.attach(${JSON.stringify(name)}, off, len, priv); out.push('mapped'); }
        catch (e) { out.push({ code: e.code, errno: e.errno, message: e.message }); }
      }
      console.log(JSON.stringify(out));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 20_000,
      encoding: 'utf8',
    });
    assert.equal(run.signal, null, `attaching a FIFO blocked (killed after 20 s): ${run.stderr}`);
    assert.equal(run.status, 0, run.stderr);
    const outcomes = JSON.parse(run.stdout) as Array<{ code: string; errno: string; message: string }>;
    assert.equal(outcomes.length, 4);
    for (const o of outcomes) {
      assert.equal(o.code, 'ERR_SHMEX_SHARED_MEMORY');
      assert.match(o.message, /a FIFO, not a regular file/);
    }
  });

  test('a socket is refused', async () => {
    const name = fakeName('sock');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, name), resolve));
    try {
      refusal(() => store.attach(name, 0, 1, false), /.+/, /a socket, not a regular file/);
      refusal(() => store.attach(name, offset, 32, true), /.+/, /a socket/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a file of another user is refused (when this process may make one: root's)", (t) => {
    if (process.geteuid?.() !== 0) {
      t.skip('needs root to give a file away');
      return;
    }
    const name = fakeName('nobody');
    const path = writeSegment(name, segmentBytes(F64_LAYOUT, F64_DATA));
    chownSync(path, 65534, 65534);
    chmodSync(path, 0o666);
    refusal(() => store.attach(name, offset, 32, true), 'EPERM', /belongs to user 65534/);
    refusal(() => store.attach(name, 0, 64, false), 'EPERM', /belongs to user 65534/);
    assert.equal(statSync(path).uid, 65534);
  });
});

describe('.npy headers', () => {
  const offset = npyHeaderLength(F64_LAYOUT);
  const goodText = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }";

  test('a valid segment maps, privately and shared, with its data', () => {
    const name = fakeName('valid');
    writeSegment(name, segmentBytes(F64_LAYOUT, F64_DATA));
    for (const priv of [true, false]) {
      const mapping = store.attach(name, offset, 32, priv);
      assert.deepEqual(new Float64Array(mapping), F64_DATA);
      native.release(mapping);
    }
    const whole = store.attach(name, 0, 4096, false);
    assert.equal(parseNpyHeader(new Uint8Array(whole)).dataLength, 32);
    native.release(whole);
  });

  /** A file: a header of this text, then 32 bytes of data; the data offset is the header's length. */
  const h = (text: string, options?: Record<string, unknown>): [Buffer, number] => {
    const header = rawHeader(text, options);
    return [Buffer.concat([header, Buffer.alloc(32)]), header.length];
  };
  /** [what, file bytes and data offset, byte length, expected message] */
  const CASES: Array<[string, () => [Buffer, number], number, RegExp]> = [
    ['8 bytes only', () => [Buffer.from('\x93NUMPY\x01\x00', 'latin1'), 8], 0, /is truncated \(8 bytes\)/],
    [
      'a header cut short',
      () => [segmentBytes(F64_LAYOUT, F64_DATA).subarray(0, 64), 64],
      0,
      /truncated \(it announces 128 bytes, 64 are there\)/,
    ],
    ['a bad magic', () => h(goodText, { magic: '\x93NUMPZ' }), 32, /magic/],
    ['no magic at all', () => [Buffer.alloc(4096, 0x41), 128], 32, /magic/],
    ['version 9.0', () => h(goodText, { version: 9 }), 32, /version 9\.0/],
    [
      'a length that is not the data offset',
      () => [segmentBytes(F64_LAYOUT, F64_DATA), 192],
      32,
      /is 128 bytes long, but the data was said to start at byte 192/,
    ],
    [
      'an announced length past the data offset',
      () => h(goodText, { length: 1000 }),
      32,
      /truncated \(it announces 1010 bytes, 128 are there\)/,
    ],
    [
      'a version 2.0 length of 4 GiB',
      () => h(goodText, { version: 2, length: 0xffffffff }),
      32,
      new RegExp(`more than ${MAX_NPY_HEADER_LENGTH}`),
    ],
    ['no final newline', () => h(goodText, { newline: false }), 32, /newline/],
    ['a list, not a dict', () => h('[1, 2]'), 32, /not a dict/],
    ['garbage', () => h('\x00\xff\x93garbage'), 32, /not a valid Python literal/],
    ['an unterminated string', () => h("{'descr: '<f8'}"), 32, /literal/],
    ['deep nesting', () => h(`${'('.repeat(500)}${')'.repeat(500)}`), 32, /nested too deeply/],
    ['a key missing', () => h("{'descr': '<f8', 'shape': (4,)}"), 32, /exactly the keys/],
    ['an extra key', () => h(`${goodText.slice(0, -2)}'x': 1, }`), 32, /exactly the keys/],
    ['a key twice', () => h(`${goodText.slice(0, -2)}'shape': (4,), }`), 32, /appears twice/],
    [
      'an unknown dtype',
      () => h(goodText.replace('<f8', '|O')),
      32,
      /dtype without a valid size|unknown dtype/,
    ],
    ['an impossible dtype size', () => h(goodText.replace('<f8', '<f3')), 32, /impossible size/],
    [
      'a dtype and shape that do not match the size',
      () => [segmentBytes(F64_LAYOUT, F64_DATA), 128],
      16,
      /describes 32 bytes of data \(dtype '<f8', shape \(4,\)\), but 16 were sent/,
    ],
    [
      'a shape that overflows',
      () => h(goodText.replace('(4,)', '(1099511627776, 1099511627776)')),
      32,
      /overflows/,
    ],
    ['a shape beyond 2**53', () => h(goodText.replace('(4,)', '(9007199254740993,)')), 32, /out of range/],
    ['a negative shape', () => h(goodText.replace('(4,)', '(-4,)')), 32, /non-negative integers/],
    ['a shape that is no tuple', () => h(goodText.replace('(4,)', '4')), 32, /not a tuple/],
    ['a fractional shape', () => h(goodText.replace('(4,)', '(4.5,)')), 32, /literal/],
    ["a 'fortran_order' that is no bool", () => h(goodText.replace('False', '0')), 32, /fortran_order/],
    [
      'a record field that is no tuple',
      () => h(goodText.replace("'<f8'", "['x']")),
      32,
      /\(name, dtype\[, shape\]\) tuple/,
    ],
  ];

  for (const [i, [what, file, byteLength, message]] of CASES.entries()) {
    test(`refused: ${what}`, () => {
      const name = fakeName(`case ${i}`);
      const [bytes, dataOffset] = file();
      writeSegment(name, bytes);
      for (const priv of [true, false]) {
        refusal(() => store.attach(name, dataOffset, byteLength, priv), /^(EINVAL)$/, message);
      }
    });
  }

  test('headers shmex writes read back exactly: records with any field names, and huge layouts (version 2.0)', () => {
    const layouts: NpyLayout[] = [
      { descr: "'<f8'", shape: [0] },
      { descr: "'|u1'", shape: [123456789] },
      { descr: "'<i8'", shape: [2, 3] },
      {
        descr: new RecordLayout({
          names: ["it's", 'back\\slash', 'ħ', '中', 'new\nline', '(a, b)', '"q"', 'tab\there'],
          formats: ['<f8', '>i4', '|b1', '<u2', '>u8', '|i1', '<f4', '?'],
          offsets: [0, 9, 13, 16, 20, 28, 32, 40],
          itemsize: 48,
        }).npyDescr(),
        shape: [7],
      },
      {
        descr: new RecordLayout(
          Array.from({ length: 4000 }, (_, i) => [`field_${i}`, '<f4'] as [string, string]),
        ).npyDescr(),
        shape: [3],
      },
    ];
    for (const layout of layouts) {
      const length = npyHeaderLength(layout);
      assert.equal(length % 64, 0);
      const bytes = new Uint8Array(length);
      assert.equal(writeNpyHeader(bytes, layout), length);
      const header = parseNpyHeader(bytes);
      assert.equal(header.headerLength, length);
      assert.deepEqual(header.shape, layout.shape);
      assert.equal(header.fortranOrder, false);
      for (const b of bytes.subarray(length > 65_000 ? 12 : 10))
        assert.ok(b === 0x0a || (b >= 0x20 && b < 0x7f));
    }
    const records = parseNpyHeader(writeAndRead(layouts[3]!));
    assert.equal(records.itemsize, 48);
    assert.equal(records.dataLength, 48 * 7);
    const huge = writeAndRead(layouts[4]!);
    assert.equal(huge[6], 2, 'a header over 64 KiB is written as version 2.0');
    assert.equal(parseNpyHeader(huge).dataLength, 4000 * 4 * 3);
  });
});

function writeAndRead(layout: NpyLayout): Uint8Array {
  const bytes = new Uint8Array(npyHeaderLength(layout));
  writeNpyHeader(bytes, layout);
  return bytes;
}

describe('decode: payloads naming hostile segments', () => {
  let book: SegmentBook;
  const controls: SegmentControl[] = [];
  const sender: Peer = { pid: OWNER, sendControl: (m) => controls.push(m) };
  const other: Peer = { pid: OWNER + 1, sendControl: (m) => controls.push(m) };
  const offset = npyHeaderLength(F64_LAYOUT);
  const ref = (name: string, over: Partial<ForgedRef> = {}): ForgedRef => ({
    name,
    capacity: 4096,
    dataOffset: offset,
    byteLength: 32,
    mode: 'copy',
    ...over,
  });
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
  /** The names freed back to the owner since the last call. */
  const freed = async (): Promise<string[]> => {
    await tick();
    const names = controls.filter((c) => c.type === 'free').flatMap((c) => c.names);
    controls.length = 0;
    return names;
  };

  before(() => {
    book = new SegmentBook(new SegmentStore(dir));
    book.addPeer(sender);
  });

  function decodeError(payload: Uint8Array, from: Peer, leases: string[]): ShmexError {
    let error: unknown;
    try {
      const value = decode(payload, book, from, leases);
      for (const b of value as ArrayBuffer[]) book.release(b);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ShmexError, `expected a ShmexError, got ${String(error)}`);
    return error;
  }

  test('a valid reference decodes, by the cached path (from its owner) and the private one', async () => {
    const name = fakeName('dvalid');
    writeSegment(name, segmentBytes(F64_LAYOUT, F64_DATA));
    for (const [from, mode] of [
      [sender, 'copy'],
      [sender, 'shared'],
      [other, 'private'],
      [sender, 'private'],
    ] as const) {
      const [buffer] = decode(forgePayload([ref(name, { mode })]), book, from, [name]) as ArrayBuffer[];
      assert.deepEqual(new Float64Array(buffer!), F64_DATA);
      assert.equal(book.release(buffer!), true);
      // A range of the data: the buffer holds those bytes alone.
      const [part] = decode(forgePayload([ref(name, { mode, start: 8, length: 16 })]), book, from, [
        name,
      ]) as ArrayBuffer[];
      assert.deepEqual(new Float64Array(part!), F64_DATA.subarray(1, 3));
      assert.equal(book.release(part!), true);
    }
    assert.ok((await freed()).includes(name));
  });

  test('a bad header is refused on both paths, and the hold is given back', async () => {
    const name = fakeName('dbad');
    const bad = segmentBytes(F64_LAYOUT, F64_DATA);
    bad[1] = 0; // bad magic
    writeSegment(name, bad);
    for (const [from, mode] of [
      [sender, 'copy'],
      [sender, 'shared'],
      [other, 'private'],
    ] as const) {
      await freed();
      const error = decodeError(forgePayload([ref(name, { mode })]), from, [name]);
      assert.ok(error instanceof SharedMemoryError);
      assert.match(error.message, /magic/);
      assert.deepEqual(await freed(), [name], `the lease is freed (${mode})`);
    }
    // The header must describe this reference: a right header, a wrong length.
    const right = fakeName('dright');
    writeSegment(right, segmentBytes(F64_LAYOUT, F64_DATA));
    for (const mode of ['copy', 'private'] as const) {
      const error = decodeError(forgePayload([ref(right, { mode, byteLength: 24 })]), sender, [right]);
      assert.match(error.message, /describes 32 bytes of data .* but 24 were sent/);
    }
  });

  test('bad names and impossible references are refused before anything is opened', async () => {
    await freed();
    const good = fakeName('dgood');
    writeSegment(good, segmentBytes(F64_LAYOUT, F64_DATA));
    for (const name of ['../evil', '/etc/passwd', `${good}\0`, '', fakeName('g').toUpperCase()]) {
      const error = decodeError(forgePayload([ref(name)]), sender, [name]);
      assert.ok(error instanceof SharedMemoryError);
      assert.equal(error.errno, 'EINVAL');
      assert.match(error.message, /not a shmex segment name/);
    }
    const impossible = [
      { dataOffset: 0 },
      { dataOffset: -64 },
      { dataOffset: offset + 0.5 },
      { capacity: Number.NaN },
      { capacity: offset + 31 },
      { capacity: 2 ** 60 },
      { dataOffset: Number.POSITIVE_INFINITY },
      { byteLength: -1 },
      { byteLength: 2 ** 53 },
      { start: 8 },
      { start: -8, length: 8 },
      { start: 0.5, length: 8 },
      { start: 0, length: 40 },
      { mode: 'weird' as ForgedRef['mode'] },
    ];
    for (const over of impossible) {
      const error = decodeError(forgePayload([ref(good, over)]), sender, [good]);
      assert.equal(error.code, 'ERR_SHMEX_MALFORMED_PAYLOAD', `${JSON.stringify(over)}: ${error.message}`);
    }
    const names = await freed();
    assert.deepEqual(
      names,
      impossible.map(() => good),
      'every lease given back, once',
    );
  });

  test('a payload cut short, a huge name length or a misaligned view is a malformed payload, not a crash', () => {
    const name = fakeName('dcut');
    writeSegment(name, segmentBytes(F64_LAYOUT, F64_DATA));
    const payload = forgePayload([ref(name)]);
    for (const cut of [1, 8, 20, payload.length - 1]) {
      const error = decodeError(payload.subarray(0, cut), sender, []);
      assert.equal(error.code, 'ERR_SHMEX_MALFORMED_PAYLOAD', error.message);
    }
    const huge = new Serializer();
    huge.writeHeader();
    huge.writeUint32(WIRE_VERSION);
    huge.writeUint32(1);
    huge.writeUint32(BUFFER_SEGMENT);
    huge.writeDouble(32);
    huge.writeUint32(0xffffffff); // the name's length
    assert.match(decodeError(huge.releaseBuffer(), sender, []).message, /name of 4294967295 bytes/);
    // A Float64Array at byte 3 of an inline buffer of 16 bytes.
    class ViewWriter extends Serializer {
      constructor() {
        super();
        (
          this as unknown as { _setTreatArrayBufferViewsAsHostObjects(f: boolean): void }
        )._setTreatArrayBufferViewsAsHostObjects(true);
      }
      _writeHostObject(): void {
        this.writeUint32(TAG_VIEW);
        this.writeUint32(8); // Float64Array
        this.writeUint32(0);
        this.writeDouble(3);
        this.writeDouble(8);
      }
    }
    const s = new ViewWriter();
    s.writeHeader();
    s.writeUint32(WIRE_VERSION);
    s.writeUint32(1);
    s.writeUint32(0);
    s.writeDouble(16);
    s.writeRawBytes(new Uint8Array(16));
    s.writeUint32(0);
    s.writeUint32(ROOT_VALUE);
    s.writeValue(new Uint8Array(1));
    assert.match(decodeError(s.releaseBuffer(), sender, []).message, /not aligned/);
  });
});

describe('end to end: a worker that sends hostile names', () => {
  let ex: ProcessPoolExecutor;
  let hostile: ModuleTasks<typeof Hostile>;
  let nextId = 1;
  /** Runs forgeResult as the next task, whose id it predicts (ids count from 1 per executor). */
  const forge = (refs: ForgedRef[]) => hostile.forgeResult(nextId++, refs);

  before(() => {
    ex = new ProcessPoolExecutor({ maxWorkers: 1, shmDir: dir });
    hostile = ex.module<typeof Hostile>(new URL('./fixtures/hostile-tasks.js', import.meta.url));
  });
  after(() => ex.shutdown());

  test('a name returned as a plain string stays a string: nothing is mapped or removed', async () => {
    const name = fakeName('e2estr');
    const path = writeSegment(name, segmentBytes(F64_LAYOUT, F64_DATA));
    const back = await ex.submit((n: string) => ({ name: n, path: `/dev/shm/${n}` }), name);
    nextId++;
    assert.deepEqual(back, { name, path: `/dev/shm/${name}` });
    assert.ok(readFileSync(path).equals(segmentBytes(F64_LAYOUT, F64_DATA)), 'the file is untouched');
  });

  test('a forged result naming a hostile segment rejects its Future; the executor goes on', async () => {
    const linked = fakeName('e2elink');
    symlinkSync('/etc/passwd', join(dir, linked));
    const cases: Array<[ForgedRef[], RegExp]> = [
      [
        [{ name: '../evil', capacity: 4096, dataOffset: 128, byteLength: 32, mode: 'private' }],
        /not a shmex segment name/,
      ],
      [
        [{ name: '../../../../etc/passwd', capacity: 4096, dataOffset: 128, byteLength: 32, mode: 'copy' }],
        /not a shmex/,
      ],
      [[{ name: linked, capacity: 4096, dataOffset: 128, byteLength: 32, mode: 'private' }], /symbolic link/],
    ];
    for (const [refs, message] of cases) {
      let error: unknown;
      try {
        await forge(refs);
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof SharedMemoryError, `expected a SharedMemoryError, got ${String(error)}`);
      assert.match(error.message, message);
      assert.equal(await ex.submit((x: number) => x + 1, 41), 42, 'the executor still works');
      nextId++;
    }
  });

  test('forged segment controls with hostile names change nothing', async () => {
    await hostile.forgeControls(['../evil', '/etc/passwd', `${fakeName('x')}/../../evil`]);
    nextId++;
    assert.equal(await ex.submit(() => 'alive'), 'alive');
    nextId++;
    assert.ok(readFileSync(outside).equals(outsideBytes));
  });
});
