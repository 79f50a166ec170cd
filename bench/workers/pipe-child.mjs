// The child of the raw-pipe floor: reads frames from stdin (an 8-byte header:
// uint32 id, uint32 payload bytes; then the float64 payload), sums the
// payload with tasks.mjs's sum and answers on stdout with a frame of the same
// header shape holding the sum (8 bytes). No serialization at all.
import { sum } from './tasks.mjs';

const HEADER = 8;
let pending = Buffer.alloc(0);
let scratch = new Float64Array(1024);

process.stdin.on('data', (chunk) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  let at = 0;
  const replies = [];
  while (pending.length - at >= HEADER) {
    const id = pending.readUInt32LE(at);
    const bytes = pending.readUInt32LE(at + 4);
    if (pending.length - at - HEADER < bytes) break;
    const count = bytes / 8;
    if (scratch.length < count) scratch = new Float64Array(count);
    // One copy into an aligned array: a frame may start at any byte offset of the chunk.
    new Uint8Array(scratch.buffer, 0, bytes).set(pending.subarray(at + HEADER, at + HEADER + bytes));
    const reply = Buffer.allocUnsafe(HEADER + 8);
    reply.writeUInt32LE(id, 0);
    reply.writeUInt32LE(8, 4);
    reply.writeDoubleLE(sum(scratch.subarray(0, count)), HEADER);
    replies.push(reply);
    at += HEADER + bytes;
  }
  pending = pending.subarray(at);
  if (replies.length > 0) process.stdout.write(replies.length === 1 ? replies[0] : Buffer.concat(replies));
});
process.stdin.on('end', () => process.exit(0));
