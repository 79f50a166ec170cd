// Arrays between machines as blobs: a meta key (the .npy header, the size,
// one crc32 per chunk) and the data in fixed-size chunks, every key with a
// time-to-live. The meta key is written last, so a blob is either whole or
// absent: a failed upload (Redis full) deletes what it wrote.
import { crc32 } from 'node:zlib';
import { CLUSTER_CHUNK_BYTES } from '../tuning.js';
import { BlobError, RedisFullError, RedisUnavailableError } from './errors.js';
import type { Redis } from './peers.js';

interface BlobMeta {
  /** The .npy header of the data, base64. */
  header: string;
  bytes: number;
  chunk: number;
  crcs: number[];
}

/** Chunk downloads in flight at once: enough to keep the connection busy, bounding buffered bytes. */
const DOWNLOAD_WINDOW = 4;

function chunkKey(key: string, index: number): string {
  return `${key}:${index}`;
}

function chunkCount(bytes: number, chunk: number): number {
  return Math.max(1, Math.ceil(bytes / chunk));
}

/** A command failed because Redis is full (maxmemory with noeviction). */
export function isOutOfMemory(error: unknown): boolean {
  return String((error as Error)?.message ?? error).startsWith('OOM');
}

/**
 * A Redis error fit to be a cause: ioredis attaches the failed command to
 * its errors, arguments included, so the original would carry a chunk of
 * the array (8 MiB) along into the error a task returns, the job's stored
 * result and BullMQ's event stream.
 */
export function bareRedisError(error: unknown): Error {
  const bare = new Error((error as Error)?.message ?? String(error));
  bare.name = (error as Error)?.name ?? 'Error';
  return bare;
}

export function redisError(error: unknown, doing: string): Error {
  if (error instanceof BlobError || error instanceof RedisFullError) return error;
  return new RedisUnavailableError(`Redis failed while ${doing}: ${(error as Error)?.message ?? error}`, {
    cause: bareRedisError(error),
  });
}

export class BlobStore {
  readonly #redis: Redis;
  readonly #ttlMs: number;
  readonly #chunk: number;

  constructor(redis: Redis, ttlMs: number, chunk = CLUSTER_CHUNK_BYTES) {
    this.#redis = redis;
    this.#ttlMs = ttlMs;
    this.#chunk = chunk;
  }

  /** Stores `data` (whose .npy header is `header`) under `key`; returns the bytes stored. */
  async put(key: string, header: Uint8Array, data: Uint8Array): Promise<number> {
    const chunk = this.#chunk;
    const count = chunkCount(data.byteLength, chunk);
    const crcs: number[] = [];
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const part = data.subarray(i * chunk, Math.min(data.byteLength, (i + 1) * chunk));
      // The write is queued first: the checksum is then computed while the socket drains.
      writes.push(
        this.#redis.set(
          chunkKey(key, i),
          Buffer.from(part.buffer, part.byteOffset, part.byteLength),
          'PX',
          this.#ttlMs,
        ),
      );
      crcs.push(crc32(part));
    }
    const results = await Promise.allSettled(writes);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed === undefined) {
      const meta: BlobMeta = {
        header: Buffer.from(header).toString('base64'),
        bytes: data.byteLength,
        chunk,
        crcs,
      };
      try {
        await this.#redis.set(key, JSON.stringify(meta), 'PX', this.#ttlMs);
        return data.byteLength;
      } catch (error) {
        await this.#forget(key, count);
        throw isOutOfMemory(error)
          ? new RedisFullError(data.byteLength, { cause: bareRedisError(error) })
          : redisError(error, 'storing an array');
      }
    }
    await this.#forget(key, count);
    const reason = failed.reason;
    throw isOutOfMemory(reason)
      ? new RedisFullError(data.byteLength, { cause: bareRedisError(reason) })
      : redisError(reason, 'storing an array');
  }

  async #forget(key: string, count: number): Promise<void> {
    const keys = [key];
    for (let i = 0; i < count; i++) keys.push(chunkKey(key, i));
    await this.#redis.del(...keys).catch(() => {});
  }

  /**
   * Reads the blob `key`: `allocate(bytes, header)` gives the bytes to fill
   * (a view of a local shared-memory array), and each chunk is checked
   * against its crc32 before it is copied in.
   */
  async get<T>(
    key: string,
    allocate: (bytes: number, header: Uint8Array) => { target: Uint8Array; value: T },
  ): Promise<T> {
    let text: string | null;
    try {
      text = await this.#redis.get(key);
    } catch (error) {
      throw redisError(error, 'reading an array');
    }
    if (text === null)
      throw new BlobError(key, 'an array is missing from Redis (expired, deleted, or Redis restarted)');
    const meta = JSON.parse(text) as BlobMeta;
    const { target, value } = allocate(meta.bytes, Buffer.from(meta.header, 'base64'));
    if (target.byteLength !== meta.bytes)
      throw new BlobError(key, 'the stored array does not have the size announced');
    const count = chunkCount(meta.bytes, meta.chunk);
    if (meta.crcs.length !== count) throw new BlobError(key, 'the stored array has a malformed index');
    let next = 0;
    const fetchOne = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        let part: Buffer | null;
        try {
          part = await this.#redis.getBuffer(chunkKey(key, i));
        } catch (error) {
          throw redisError(error, 'reading an array');
        }
        const start = i * meta.chunk;
        const expected = Math.min(meta.bytes, start + meta.chunk) - start;
        if (part === null) throw new BlobError(key, `chunk ${i} of a stored array is missing`);
        if (part.byteLength !== expected || crc32(part) !== meta.crcs[i]) {
          throw new BlobError(key, `chunk ${i} of a stored array is corrupted (checksum mismatch)`);
        }
        target.set(part, start);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DOWNLOAD_WINDOW, count) }, fetchOne));
    return value;
  }

  /** Deletes blobs (their meta and chunks). Best effort: the time-to-live removes what this misses. */
  async delete(blobs: Iterable<{ key: string; bytes: number }>): Promise<void> {
    const keys: string[] = [];
    for (const { key, bytes } of blobs) {
      keys.push(key);
      for (let i = 0; i < chunkCount(bytes, this.#chunk); i++) keys.push(chunkKey(key, i));
    }
    if (keys.length > 0) await this.#redis.del(...keys).catch(() => {});
  }
}
