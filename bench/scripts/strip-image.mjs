// The image and strips of bench (g), for the scripts that take it apart
// (chunks-ab.mjs, strips-timeline.mjs): a 4000x4000 RGBA image of a fixed
// pattern, cut into 16 strips of rows, each read with one halo row above and
// below where the image has one.
export const width = 4000;
export const height = 4000;
export const rowBytes = width * 4;

const per = Math.ceil(height / 16);

/** Each strip: the rows read [inFrom, inTo), the rows written, and where they start within those read. */
export const strips = Array.from({ length: 16 }, (_, i) => {
  const r0 = i * per;
  const r1 = Math.min(height, r0 + per);
  const inFrom = Math.max(0, r0 - 1);
  return { inFrom, inTo: Math.min(height, r1 + 1), rows: r1 - r0, haloTop: r0 - inFrom };
});

/** The image, made anew. */
export function makeImage() {
  const image = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < image.length; i++) image[i] = (i * 7 + (i >>> 11) * 13) & 255;
  return image;
}
