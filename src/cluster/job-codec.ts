// What a job carries (BullMQ stores job data and return values as JSON):
// the task (a function's source, or a module URL with the digest of its
// file), the arguments' message (base64; its large arrays are blobs), and
// back, the result's message or the task's error.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import type { TaskRef } from '../pool/protocol.js';
import { rebuildError, type SerializedError, serializeError } from '../transfer/remote-error.js';
import * as clusterErrors from './errors.js';
import type { BlobRef } from './value-codec.js';

export type TaskSpec =
  | { kind: 'source'; name: string; source: string }
  | { kind: 'module'; url: string; name: string; digest?: string };

export interface JobData {
  v: 1;
  submitter: string;
  task: TaskSpec;
  /** The arguments' message, base64 (for a chunk of map: the list of argument lists); empty if `argsKey` holds it. */
  args: string;
  /** The key holding the arguments' message when it is too large to travel in the job (job-message.ts). */
  argsKey?: string;
  chunk: boolean;
  /** A batch of tasks (args: the list of argument lists); the result is one BatchOutcome per task. */
  batch?: boolean;
  /** Tasks of a batch cancelled before a machine took it (their indexes): they do not run. */
  cancelled?: number[];
  /**
   * The submitter may ask the machine to stop the task while it runs (it has
   * an AbortSignal). Only such tasks run alone in their pool process on the
   * machine; the others share its messages, as local tasks do.
   */
  abortable?: true;
  /** Milliseconds a running task may take on its machine. */
  timeout?: number;
  /** How many times the task may run again after its machine was lost. */
  maxRetries: number;
  /** Time-to-live of the result's blobs, in milliseconds. */
  ttl: number;
}

export type JobResult =
  | { ok: true; value: string; valueKey?: string; blobs: BlobRef[]; machine: string }
  | { ok: false; error: string; machine: string };

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Buffer {
  return Buffer.from(text, 'base64');
}

const digests = new Map<string, { mtimeMs: number; size: number; digest: string; checkedAt: number }>();

/**
 * A file's digest is trusted for this long before its size and mtime are
 * looked at again: a stat per task cost more than the rest of a tiny task's
 * encoding. A file changed within this window may still pass as unchanged.
 */
const DIGEST_RECHECK_MS = 1000;

/**
 * The sha256 of a module's file (file: URLs only; a package name is resolved
 * on each machine), trusted for `recheckMs` before the file is looked at again.
 */
export function moduleDigest(url: string, recheckMs = DIGEST_RECHECK_MS): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const now = performance.now();
  const cached = digests.get(url);
  if (cached !== undefined && now - cached.checkedAt < recheckMs) return cached.digest;
  const path = fileURLToPath(url);
  const stat = statSync(path);
  if (cached !== undefined && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) {
    cached.checkedAt = now;
    return cached.digest;
  }
  const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
  digests.set(url, { mtimeMs: stat.mtimeMs, size: stat.size, digest, checkedAt: now });
  return digest;
}

export function taskSpecOf(ref: TaskRef): TaskSpec {
  if (ref.kind === 'source') return { kind: 'source', name: ref.name, source: ref.source ?? '' };
  const digest = moduleDigest(ref.url);
  return digest === undefined
    ? { kind: 'module', url: ref.url, name: ref.name }
    : { kind: 'module', url: ref.url, name: ref.name, digest };
}

/**
 * A task's error as it leaves a machine: the local pool already rebuilt the
 * child's error (its stack is the child's, its cause a RemoteStack); the
 * submitter rebuilds it once more, naming the machine in the stack.
 */
export function encodeError(error: unknown, machine: string): string {
  const s = serializeError(error);
  if (s.cause?.name === 'RemoteStack') {
    const inner = s.cause.cause;
    if (inner === undefined) delete s.cause;
    else s.cause = inner;
  }
  if (s.stack !== undefined) s.stack = `${s.stack}\n    at <machine ${machine}>`;
  return toBase64(serialize(s));
}

/** shmex/cluster's own error classes, which the rebuilding of shmex errors (src/errors.ts) does not know. */
const CLUSTER_ERRORS = new Map<string, { prototype: object }>(
  Object.entries(clusterErrors).filter(
    ([, cls]) => (cls as { prototype?: unknown }).prototype instanceof Error,
  ) as [string, { prototype: object }][],
);

export function decodeError(text: string): unknown {
  const s = deserialize(fromBase64(text)) as SerializedError;
  const error = rebuildError(s);
  // A machine's own error (a ModuleMismatchError...) is rebuilt as an Error of that name: give it its class.
  const cls = s.shmex === true ? CLUSTER_ERRORS.get(s.name) : undefined;
  if (cls !== undefined && Object.getPrototypeOf(error) === Error.prototype)
    Object.setPrototypeOf(error, cls.prototype);
  return error;
}
