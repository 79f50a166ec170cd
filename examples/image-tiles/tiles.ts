// Tasks of the image-tiles example: a Tile is a class holding its pixels, so
// it is registered as an array wrapper (here, at import, in the parent and in
// each worker alike): its pixels travel through shared memory, and it arrives
// as a Tile.
import { registerArrayWrapper } from 'shmex';

export class Tile {
  constructor(
    readonly x: number,
    readonly y: number,
    readonly width: number,
    readonly height: number,
    /** RGBA, row-major. */
    readonly pixels: Uint8ClampedArray,
  ) {}
}

registerArrayWrapper(Tile, 'pixels');

/** A 3x3 box blur of the tile (edges clamped), as a new Tile. */
export function blur(tile: Tile): Tile {
  const { width, height, pixels } = tile;
  const out = new Uint8ClampedArray(pixels.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 4; c++) {
        let sum = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = Math.min(height - 1, Math.max(0, y + dy));
          for (let dx = -1; dx <= 1; dx++) {
            const xx = Math.min(width - 1, Math.max(0, x + dx));
            sum += pixels[(yy * width + xx) * 4 + c]!;
          }
        }
        out[(y * width + x) * 4 + c] = sum / 9;
      }
    }
  }
  return new Tile(tile.x, tile.y, width, height, out);
}
