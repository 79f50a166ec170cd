// The adapters load their library (an optional peer dependency) with a
// top-level `await import()`, so that a missing one gives an error saying
// what to install instead of Node's bare ERR_MODULE_NOT_FOUND. The adapters
// are entry points of their own: the top-level await keeps them from being
// loaded with require() (require of ES modules refuses a graph with top-level
// await), which the main entry, free of it, still allows.
import { MissingPeerDependencyError } from '../errors.js';

/** Imports `dependency` for the adapter `entry`; throws MissingPeerDependencyError if it is not installed. */
export async function importPeer<T>(dependency: string, entry: string): Promise<T> {
  try {
    return (await import(dependency)) as T;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    // Only the dependency itself missing; a module it fails to load is its own error.
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${dependency}'`)) {
      throw new MissingPeerDependencyError(entry, dependency, { cause: error });
    }
    throw error;
  }
}
