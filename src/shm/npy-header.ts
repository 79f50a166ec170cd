// Each segment starts with a .npy header, padded so the data begins on a
// 64-byte boundary: a segment is self-describing for listings and checks, and
// numpy can open it with np.load(path, mmap_mode='r'). Version 1.0 (a 2-byte
// header length) unless the header is longer than that allows (a record
// layout with thousands of fields): then version 2.0 (a 4-byte length).
//
// Segments arrive by name from other processes, so a receiver reads the
// header back (parseNpyHeader) and checks that it describes the bytes the
// sender said are there before it maps them.
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
const V1_MAX_HEADER = 0xffff;
/** Longest header a receiver accepts, prefix included: far beyond any layout shmex writes. */
export const MAX_NPY_HEADER_LENGTH = 1 << 20;

/** numpy's description of the data: a dtype string such as '<f8', or a structured dtype literal. */
export interface NpyLayout {
  descr: string;
  shape: readonly number[];
}

/**
 * The header text, printable ASCII only: field names may hold any character,
 * but each character becomes one byte of the header, so anything else (a
 * control character, a quote's low byte in U+0127) would corrupt the literal.
 */
function headerText(layout: NpyLayout): string {
  const shape = layout.shape.length === 1 ? `(${layout.shape[0]},)` : `(${layout.shape.join(', ')})`;
  const text = `{'descr': ${layout.descr}, 'fortran_order': False, 'shape': ${shape}, }`;
  return text.replace(/[^\x20-\x7e]/g, '_');
}

/** 10 bytes of magic, version and a 2-byte length (version 1.0), or 12 with a 4-byte length (2.0). */
function prefixLength(text: string): number {
  const v1Total = Math.ceil((10 + text.length + 1) / ALIGN) * ALIGN;
  return v1Total - 10 <= V1_MAX_HEADER ? 10 : 12;
}

/** Byte length of the header, which is also the data offset. */
export function npyHeaderLength(layout: NpyLayout): number {
  const text = headerText(layout);
  const unpadded = prefixLength(text) + text.length + 1;
  return Math.ceil(unpadded / ALIGN) * ALIGN;
}

/** Writes the header into the first npyHeaderLength(layout) bytes of `target`. */
export function writeNpyHeader(target: Uint8Array, layout: NpyLayout): number {
  const raw = headerText(layout);
  const prefix = prefixLength(raw);
  const total = Math.ceil((prefix + raw.length + 1) / ALIGN) * ALIGN;
  const text = raw.padEnd(total - prefix - 1, ' ');
  const length = text.length + 1;
  target.set(MAGIC, 0);
  target[6] = prefix === 10 ? 1 : 2;
  target[7] = 0;
  target[8] = length & 0xff;
  target[9] = (length >>> 8) & 0xff;
  if (prefix === 12) {
    target[10] = (length >>> 16) & 0xff;
    target[11] = (length >>> 24) & 0xff;
  }
  for (let i = 0; i < text.length; i++) target[prefix + i] = text.charCodeAt(i);
  target[total - 1] = 0x0a;
  return total;
}

/** Quotes a numpy dtype string for the header, e.g. '<f8' -> "'<f8'". */
export function quoteDescr(dtype: string): string {
  return `'${dtype}'`;
}

// --- reading a header back ---

/** A header that is not one: the reason, worded to follow "its .npy header ...". */
export class NpyHeaderError extends Error {}

/** What a header says. */
export interface NpyHeader {
  readonly version: number;
  /** Bytes of the header, prefix and padding included: where the data starts. */
  readonly headerLength: number;
  readonly descr: string | readonly unknown[];
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  /** Bytes per element of descr. */
  readonly itemsize: number;
  /** itemsize times the product of the shape: the bytes of data the header describes. */
  readonly dataLength: number;
}

/**
 * Headers already read, by their text: a receiver reads one per array it
 * maps, and they repeat (one dtype, a few shapes). Bounded; cleared when full.
 */
const parsed = new Map<string, NpyHeader>();
const MAX_CACHED = 256;

/** A Python literal, as numpy writes one with repr(): dicts, tuples, lists, strings, integers, booleans. */
type Literal = string | number | boolean | null | Literal[] | Map<Literal, Literal> | TupleLiteral;
class TupleLiteral {
  constructor(readonly items: Literal[]) {}
}

const MAX_DEPTH = 16;

class LiteralParser {
  #at = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new NpyHeaderError(`is not a valid Python literal (${what} at character ${this.#at})`);
  }

  #space(): void {
    while (this.#at < this.text.length && ' \t\n\r'.includes(this.text[this.#at]!)) this.#at++;
  }

  #peek(): string {
    this.#space();
    return this.text[this.#at] ?? '';
  }

  parseAll(): Literal {
    const value = this.#value(0);
    if (this.#peek() !== '') this.fail('unexpected text after the value');
    return value;
  }

  #value(depth: number): Literal {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    const c = this.#peek();
    if (c === '{') return this.#dict(depth);
    if (c === '(') return this.#sequence(depth, ')');
    if (c === '[') return this.#sequence(depth, ']');
    if (c === "'" || c === '"') return this.#string();
    const word = /^(?:-?\d+|True|False|None)/.exec(this.text.slice(this.#at, this.#at + 32));
    if (word === null) this.fail(c === '' ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
    this.#at += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    const n = Number(word[0]);
    if (!Number.isSafeInteger(n)) this.fail(`integer ${word[0].slice(0, 24)} out of range`);
    return n;
  }

  #string(): string {
    const quote = this.text[this.#at++]!;
    let out = '';
    for (;;) {
      const c = this.text[this.#at++];
      if (c === undefined || c === '\n') this.fail('unterminated string');
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[this.#at++];
      if (e === undefined) this.fail('unterminated string');
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0' };
      if (e === 'x' || e === 'u') {
        const hex = this.text.slice(this.#at, this.#at + (e === 'x' ? 2 : 4));
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== (e === 'x' ? 2 : 4)) this.fail('bad escape');
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.#at += hex.length;
      } else out += simple[e] ?? e;
    }
  }

  #sequence(depth: number, close: ')' | ']'): Literal {
    this.#at++;
    const items: Literal[] = [];
    let comma = false;
    while (this.#peek() !== close) {
      if (items.length > 0 && !comma) this.fail(`expected ',' or '${close}'`);
      items.push(this.#value(depth + 1));
      comma = this.#peek() === ',';
      if (comma) this.#at++;
    }
    this.#at++;
    if (close === ']') return items;
    // (x) is x itself in Python; (x,) and () are tuples.
    return items.length === 1 && !comma ? items[0]! : new TupleLiteral(items);
  }

  #dict(depth: number): Literal {
    this.#at++;
    const out = new Map<Literal, Literal>();
    let comma = false;
    while (this.#peek() !== '}') {
      if (out.size > 0 && !comma) this.fail("expected ',' or '}'");
      const key = this.#value(depth + 1);
      if (this.#peek() !== ':') this.fail("expected ':'");
      this.#at++;
      if (out.has(key)) this.fail(`key ${JSON.stringify(key)} appears twice`);
      out.set(key, this.#value(depth + 1));
      comma = this.#peek() === ',';
      if (comma) this.#at++;
    }
    this.#at++;
    return out;
  }
}

function safeProduct(a: number, b: number, what: string): number {
  const p = a * b;
  if (!Number.isSafeInteger(p)) throw new NpyHeaderError(`has a ${what} that overflows (${a} * ${b})`);
  return p;
}

/** Bytes per element of a simple dtype string such as '<f8', '|b1', '?', '|V12', '<M8[ns]'. */
function scalarSize(dtype: string): number {
  const m = /^[<>|=]?([?biufcVSUMm])(\d*)(?:\[\w+\])?$/.exec(dtype);
  if (m === null) throw new NpyHeaderError(`has an unknown dtype ${JSON.stringify(dtype.slice(0, 40))}`);
  const code = m[1]!;
  if (code === '?') {
    if (m[2] !== '') throw new NpyHeaderError(`has an unknown dtype ${JSON.stringify(dtype)}`);
    return 1;
  }
  const n = m[2] === '' ? Number.NaN : Number(m[2]);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new NpyHeaderError(`has a dtype without a valid size: ${JSON.stringify(dtype.slice(0, 40))}`);
  }
  if ('biuf'.includes(code) && ![1, 2, 4, 8, 16].includes(n)) {
    throw new NpyHeaderError(`has a dtype of an impossible size: ${JSON.stringify(dtype)}`);
  }
  return code === 'U' ? safeProduct(n, 4, 'dtype size') : n;
}

function shapeOf(value: Literal, where: string): number[] {
  const items = value instanceof TupleLiteral ? value.items : undefined;
  if (items === undefined) throw new NpyHeaderError(`has a ${where} that is not a tuple`);
  return items.map((n) => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new NpyHeaderError(`has a ${where} that is not a tuple of non-negative integers`);
    }
    return n;
  });
}

function count(shape: readonly number[], what: string): number {
  return shape.reduce((a, b) => safeProduct(a, b, what), 1);
}

/** Bytes per element of a descr: a dtype string, or a list of fields (name, dtype[, shape]). */
function itemsizeOf(descr: Literal, depth = 0): number {
  if (typeof descr === 'string') return scalarSize(descr);
  if (!Array.isArray(descr) || descr.length === 0 || depth > 4) {
    throw new NpyHeaderError("has a 'descr' that is neither a dtype string nor a list of fields");
  }
  let size = 0;
  for (const field of descr) {
    const parts = field instanceof TupleLiteral ? field.items : undefined;
    if (parts === undefined || parts.length < 2 || parts.length > 3) {
      throw new NpyHeaderError("has a field in 'descr' that is not a (name, dtype[, shape]) tuple");
    }
    const [name, dtype, shape] = parts as [Literal, Literal, Literal | undefined];
    if (typeof name !== 'string' && !(name instanceof TupleLiteral)) {
      throw new NpyHeaderError("has a field name in 'descr' that is not a string");
    }
    let fieldSize = itemsizeOf(dtype, depth + 1);
    if (shape !== undefined)
      fieldSize = safeProduct(fieldSize, count(shapeOf(shape, 'field shape'), 'field shape'), 'field shape');
    size += fieldSize;
    if (!Number.isSafeInteger(size)) throw new NpyHeaderError('has a record size that overflows');
  }
  return size;
}

/**
 * Reads the .npy header at the start of `bytes` (at least its first 10 or
 * 12 bytes and the header they announce). Throws NpyHeaderError, worded to
 * follow "its .npy header", for anything that is not a well-formed header.
 */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.length < 10) throw new NpyHeaderError(`is truncated (${bytes.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new NpyHeaderError('does not start with the magic \\x93NUMPY');
  }
  const version = bytes[6]!;
  if ((version !== 1 && version !== 2) || bytes[7] !== 0) {
    throw new NpyHeaderError(`has an unsupported version ${version}.${bytes[7]}`);
  }
  const prefix = version === 1 ? 10 : 12;
  if (bytes.length < prefix) throw new NpyHeaderError(`is truncated (${bytes.length} bytes)`);
  const textLength =
    version === 1
      ? bytes[8]! | (bytes[9]! << 8)
      : (bytes[8]! | (bytes[9]! << 8) | (bytes[10]! << 16)) + bytes[11]! * 2 ** 24;
  const headerLength = prefix + textLength;
  if (headerLength > MAX_NPY_HEADER_LENGTH) {
    throw new NpyHeaderError(`announces ${headerLength} bytes, more than ${MAX_NPY_HEADER_LENGTH}`);
  }
  if (bytes.length < headerLength) {
    throw new NpyHeaderError(`is truncated (it announces ${headerLength} bytes, ${bytes.length} are there)`);
  }
  if (textLength === 0 || bytes[headerLength - 1] !== 0x0a) {
    throw new NpyHeaderError('does not end with a newline');
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + prefix, textLength - 1).toString('latin1');
  const key = `${version}${text}`;
  const known = parsed.get(key);
  if (known !== undefined) return known;
  const header = parseText(text, version, headerLength);
  if (parsed.size >= MAX_CACHED) parsed.clear();
  parsed.set(key, header);
  return header;
}

function parseText(text: string, version: number, headerLength: number): NpyHeader {
  const dict = new LiteralParser(text).parseAll();
  if (!(dict instanceof Map)) throw new NpyHeaderError('is not a dict');
  if (dict.size !== 3 || !['descr', 'fortran_order', 'shape'].every((k) => dict.has(k))) {
    throw new NpyHeaderError("must have exactly the keys 'descr', 'fortran_order' and 'shape'");
  }
  const descr = dict.get('descr')!;
  const fortranOrder = dict.get('fortran_order');
  if (typeof fortranOrder !== 'boolean') throw new NpyHeaderError("has a 'fortran_order' that is not a bool");
  const shape = shapeOf(dict.get('shape')!, "'shape'");
  const itemsize = itemsizeOf(descr);
  const dataLength = safeProduct(itemsize, count(shape, "'shape'"), "'shape'");
  return Object.freeze({
    version,
    headerLength,
    descr: descr as string | unknown[],
    fortranOrder,
    shape: Object.freeze(shape),
    itemsize,
    dataLength,
  });
}

/** One entry of a structured descr: a name (a string, or a (title, name) tuple), a dtype, a subarray shape. */
export interface NpyDescrField {
  readonly name: unknown;
  readonly dtype: unknown;
  readonly shape: unknown;
}

/** The entries of a structured descr as parseNpyHeader returns it, or undefined for a dtype string. */
export function descrFields(descr: NpyHeader['descr']): NpyDescrField[] | undefined {
  if (typeof descr === 'string') return undefined;
  return descr.map((field) => {
    const [name, dtype, shape] = (field as TupleLiteral).items;
    return { name: name instanceof TupleLiteral ? name.items : name, dtype, shape };
  });
}
