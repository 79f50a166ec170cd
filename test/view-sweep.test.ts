// ViewRegistry.sweepCollected: right after a garbage collection, the holds
// of large arrays it collected end at once, and their finalizers never run
// (a hold must end once, not twice); small arrays wait for their finalizers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { collectGarbage } from '../dist/shm/collect.js';
import { SWEPT_VIEW_BYTES, type ViewInfo, ViewRegistry } from '../dist/shm/view-registry.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

function infoOf(name: string, byteLength: number): ViewInfo {
  return {
    name,
    capacity: byteLength,
    dataOffset: 0,
    dataLength: byteLength,
    start: 0,
    byteLength,
    mapping: undefined,
    cached: undefined,
    privateCopy: false,
    exclusive: false,
  };
}

/** Tracks a buffer that nothing else keeps. */
function trackDropped(registry: ViewRegistry, name: string, byteLength: number): void {
  registry.track(new ArrayBuffer(byteLength), infoOf(name, byteLength));
}

test('a large array collected: dropped at the sweep after the collection, once; a small one by its finalizer', async () => {
  const dropped: string[] = [];
  const registry = new ViewRegistry((view) => dropped.push(view.name));
  trackDropped(registry, 'large', SWEPT_VIEW_BYTES);
  trackDropped(registry, 'small', 64);
  const kept = new ArrayBuffer(SWEPT_VIEW_BYTES);
  registry.track(kept, infoOf('kept', SWEPT_VIEW_BYTES));
  assert.equal(registry.sweepCollected(), 0, 'nothing collected yet');
  // A WeakRef keeps its target alive until the end of the turn that made or read it.
  await turn();
  collectGarbage();
  assert.equal(registry.sweepCollected(), 1);
  assert.deepEqual(dropped, ['large'], 'at once, in the same turn');
  await turn();
  await turn();
  assert.deepEqual(
    dropped.sort(),
    ['large', 'small'],
    "the small one's finalizer ran, the large one's did not",
  );
  assert.equal(registry.sweepCollected(), 0);
  assert.equal(registry.untrack(kept)?.name, 'kept', 'a live large array can still be released');
  await turn();
  collectGarbage();
  assert.equal(registry.sweepCollected(), 0, 'released: not swept');
  assert.equal(kept.byteLength, SWEPT_VIEW_BYTES);
});
