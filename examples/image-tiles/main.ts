// Blurs a 1024x1024 RGBA image in 16 tiles on every core, then checks the
// result against the same blur done in this process.
// Run: node --import tsx examples/image-tiles/main.ts
import assert from 'node:assert/strict';
import { ProcessPoolExecutor } from 'shmex';
import * as Tiles from './tiles.js';

const SIZE = 1024;
const TILE = 256;

function makeImage(): Uint8ClampedArray {
  const image = new Uint8ClampedArray(SIZE * SIZE * 4);
  for (let i = 0; i < image.length; i++) image[i] = (i * 2654435761) >>> 24; // a fixed pseudo-random pattern
  return image;
}

function cut(image: Uint8ClampedArray, x: number, y: number): Tiles.Tile {
  const pixels = new Uint8ClampedArray(TILE * TILE * 4);
  for (let row = 0; row < TILE; row++) {
    const from = ((y + row) * SIZE + x) * 4;
    pixels.set(image.subarray(from, from + TILE * 4), row * TILE * 4);
  }
  return new Tiles.Tile(x, y, TILE, TILE, pixels);
}

function paste(image: Uint8ClampedArray, tile: Tiles.Tile): void {
  for (let row = 0; row < tile.height; row++) {
    image.set(
      tile.pixels.subarray(row * tile.width * 4, (row + 1) * tile.width * 4),
      ((tile.y + row) * SIZE + tile.x) * 4,
    );
  }
}

const image = makeImage();
const tiles: Tiles.Tile[] = [];
for (let y = 0; y < SIZE; y += TILE) for (let x = 0; x < SIZE; x += TILE) tiles.push(cut(image, x, y));

await using ex = new ProcessPoolExecutor();
const tasks = ex.module<typeof Tiles>(new URL('./tiles.js', import.meta.url));
const blurred = new Uint8ClampedArray(image.length);
for await (const tile of ex.map(tasks.blur, tiles)) {
  assert.ok(tile instanceof Tiles.Tile, 'a Tile comes back as a Tile');
  paste(blurred, tile);
}

// The same, in this process (tiles blur their own edges, so compare tile by tile).
const expected = new Uint8ClampedArray(image.length);
for (const tile of tiles) paste(expected, Tiles.blur(tile));
assert.deepEqual(blurred, expected);
console.log(
  `blurred ${tiles.length} tiles of ${TILE}x${TILE} on ${ex.maxWorkers} workers: identical to the in-process blur`,
);
