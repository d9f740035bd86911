// A test picture that open_nsfw scores high while showing nothing at all: an 8 x 8 grid of skin tones, smoothly
// interpolated. It was found by a random search against the model's own score (a hill climb on the 64 colours), so it
// is an input the classifier gets wrong, which is what a test needs to see a block without an explicit image in the
// repository. It scores about 0.95 after the real path (H.264 segment, ffmpeg resize and crop, JPEG), where the
// reference renders score under 0.15.

/** The colours, row by row (RGB). */
const GRID: readonly (readonly [number, number, number])[] = [
  [190, 139, 98],
  [200, 150, 125],
  [255, 216, 186],
  [169, 104, 96],
  [189, 149, 125],
  [216, 154, 130],
  [153, 101, 66],
  [200, 150, 125],
  [200, 150, 125],
  [200, 150, 125],
  [156, 109, 92],
  [200, 150, 125],
  [200, 150, 125],
  [200, 150, 125],
  [171, 122, 91],
  [150, 85, 55],
  [233, 190, 159],
  [174, 132, 109],
  [196, 152, 125],
  [223, 159, 134],
  [213, 156, 139],
  [200, 150, 125],
  [200, 150, 125],
  [254, 194, 182],
  [198, 162, 120],
  [188, 142, 111],
  [200, 150, 125],
  [217, 176, 157],
  [232, 172, 154],
  [200, 150, 118],
  [200, 150, 125],
  [183, 138, 113],
  [200, 150, 125],
  [216, 157, 149],
  [234, 194, 161],
  [213, 154, 122],
  [226, 169, 138],
  [200, 150, 125],
  [200, 150, 125],
  [200, 150, 125],
  [200, 150, 125],
  [255, 207, 188],
  [198, 142, 114],
  [185, 126, 103],
  [177, 145, 119],
  [165, 117, 97],
  [200, 150, 125],
  [208, 153, 129],
  [233, 160, 141],
  [140, 77, 71],
  [200, 150, 125],
  [200, 150, 125],
  [212, 160, 139],
  [172, 140, 112],
  [209, 171, 135],
  [200, 150, 125],
  [200, 150, 125],
  [200, 150, 125],
  [196, 153, 139],
  [243, 180, 170],
  [168, 120, 81],
  [178, 157, 120],
  [197, 151, 114],
  [200, 150, 125],
];
const SIDE = 8;

/**
 * The picture as a square frame of `side` pixels, RGB bytes, laid out so that the classifier's view of it (the frame
 * resized to 256 x 256, its centre 224 x 224 cropped) is the grid edge to edge, as the search scored it.
 */
export function safetyProbeFrame(side: number): Uint8Array {
  const out = new Uint8Array(side * side * 3);
  const scale = side / 256;
  const at = (p: number) => Math.max(0, Math.min(SIDE - 1, ((p - 16 * scale) / (224 * scale - 1)) * (SIDE - 1)));
  for (let y = 0; y < side; y++) {
    const gy = at(y);
    const y0 = Math.min(SIDE - 2, Math.floor(gy));
    const fy = gy - y0;
    for (let x = 0; x < side; x++) {
      const gx = at(x);
      const x0 = Math.min(SIDE - 2, Math.floor(gx));
      const fx = gx - x0;
      for (let c = 0; c < 3; c++) {
        const v = (i: number, j: number) => GRID[j * SIDE + i]![c]!;
        const value = v(x0, y0) * (1 - fx) * (1 - fy) + v(x0 + 1, y0) * fx * (1 - fy) + v(x0, y0 + 1) * (1 - fx) * fy + v(x0 + 1, y0 + 1) * fx * fy;
        out[(y * side + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return out;
}
