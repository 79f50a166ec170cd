// A dependency-free Redis client for tests: one connection per command, the
// RESP protocol by hand. The harness uses it to see whether a server answers
// and to read INFO; fault tests use it to look at and damage keys without the
// engine's own client in the way.
import { connect } from 'node:net';

export type Reply = string | number | Buffer | null | Reply[] | Error;

function encode(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `at`; undefined while the bytes are incomplete. */
function parse(buf: Buffer, at: number): { reply: Reply; end: number } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buf.toString('latin1', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at]!)) {
    case '+':
      return { reply: line, end: next };
    case '-':
      return { reply: new Error(line), end: next };
    case ':':
      return { reply: Number(line), end: next };
    case '$': {
      const size = Number(line);
      if (size < 0) return { reply: null, end: next };
      if (buf.length < next + size + 2) return undefined;
      return { reply: buf.subarray(next, next + size), end: next + size + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: Reply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, end);
        if (item === undefined) return undefined;
        items.push(item.reply);
        end = item.end;
      }
      return { reply: items, end };
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buf.toString('latin1', at, at + 40))}`);
  }
}

/** Sends one command to the server at `port` and resolves with its reply (a server error resolves as an Error). */
export function command(port: number, ...args: (string | Buffer)[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buf: Buffer = Buffer.alloc(0);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`redis on port ${port}: no reply in 10 s`)));
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const parsed = parse(buf, 0);
      if (parsed === undefined) return;
      socket.destroy();
      resolve(parsed.reply);
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`redis on port ${port} closed the connection`)));
  });
}

/** A reply as text (bulk strings decoded), for assertions and INFO. */
export function text(reply: Reply): string {
  if (reply instanceof Error) throw reply;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  return String(reply);
}

/** The names of the keys matching `pattern` (KEYS: fine on a test's own small server). */
export async function keys(port: number, pattern = '*'): Promise<string[]> {
  const reply = await command(port, 'KEYS', pattern);
  if (!Array.isArray(reply)) throw new Error(`KEYS: ${String(reply)}`);
  return reply.map(text).sort();
}
