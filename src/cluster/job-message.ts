// A job's message (its arguments, or its result) travels inside the job's
// JSON as base64 while it is small; a larger one (tiny tasks batched 32 to a
// job make messages of hundreds of KiB) is stored as a binary key beside the
// job, with the job's time-to-live, and the job carries only its key. Large
// strings are what a job costs most: BullMQ serializes the job to JSON,
// ioredis measures every string argument's UTF-8 length more than once and
// copies it out, Redis keeps it in the job's hash and its event stream, and
// the machine parses it back from JSON and base64. A Buffer crosses ioredis
// without any of that. Keys are deleted in bulk: one UNLINK per event-loop
// turn for every job that ended in it.
import { CLUSTER_JOB_MESSAGE_BYTES } from '../tuning.js';
import { bareRedisError, isOutOfMemory, redisError } from './blob-store.js';
import { BlobError, RedisFullError } from './errors.js';
import { fromBase64, type JobData, toBase64 } from './job-codec.js';
import type { Redis } from './peers.js';

/** A message as a job or a result carries it: inline (base64 `text`), or the `key` holding it. */
export interface CarriedMessage {
  text: string;
  key?: string;
}

/** Stores `message` beside its job when it is too large to travel in the job's JSON. */
export async function carryMessage(
  redis: Redis,
  key: string,
  message: Uint8Array,
  ttlMs: number,
  what: string,
): Promise<CarriedMessage> {
  if (message.byteLength < CLUSTER_JOB_MESSAGE_BYTES) return { text: toBase64(message) };
  try {
    await redis.set(
      key,
      Buffer.from(message.buffer, message.byteOffset, message.byteLength),
      'PX',
      Math.max(1, ttlMs),
    );
  } catch (error) {
    throw isOutOfMemory(error)
      ? new RedisFullError(message.byteLength, { cause: bareRedisError(error) }, what)
      : redisError(error, `storing ${what}`);
  }
  return { text: '', key };
}

/** A job's arguments as its data carries them. */
export async function carryArgs(
  redis: Redis,
  key: string,
  message: Uint8Array,
  ttlMs: number,
): Promise<Pick<JobData, 'args' | 'argsKey'>> {
  const carried = await carryMessage(redis, key, message, ttlMs, "a task's arguments");
  return carried.key === undefined ? { args: carried.text } : { args: '', argsKey: carried.key };
}

/** The bytes of a carried message. */
export async function receiveMessage(redis: Redis, carried: CarriedMessage, what: string): Promise<Buffer> {
  if (carried.key === undefined) return fromBase64(carried.text);
  let bytes: Buffer | null;
  try {
    bytes = await redis.getBuffer(carried.key);
  } catch (error) {
    throw redisError(error, `reading ${what}`);
  }
  if (bytes === null)
    throw new BlobError(carried.key, `${what} is missing from Redis (expired, deleted, or Redis restarted)`);
  return bytes;
}

/** Deletes keys in bulk: those given during one event-loop turn go in one UNLINK. Best effort (they expire). */
export class KeyReaper {
  readonly #redis: Redis;
  #keys: string[] = [];
  #flushing: Promise<void> | undefined;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  add(key: string): void {
    this.#keys.push(key);
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    const keys = this.#keys;
    this.#keys = [];
    this.#flushing = undefined;
    if (keys.length > 0 && this.#redis.status === 'ready') await this.#redis.unlink(...keys).catch(() => {});
  }

  /** Resolves once the keys given so far have been deleted (or Redis refused). */
  async settled(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
  }
}
