// Face detection for cameo recordings: MediaPipe's BlazeFace (front model, 128x128) through onnxruntime-node, with
// its anchors and box decoding written out here, and the liveness measure built on its keypoints (non-rigid motion).
import * as ort from 'onnxruntime-node';

/** The model's input side: the frame is letterboxed to a square of this size. */
export const FACE_INPUT_SIZE = 128;

export interface FaceDetection {
  score: number;
  /** Box centre and size, in the letterboxed square's units (0..1). */
  cx: number;
  cy: number;
  w: number;
  h: number;
  /** Six keypoints (right eye, left eye, nose tip, mouth, right ear, left ear), x and y in the square's units. */
  keypoints: Array<[number, number]>;
}

/** MediaPipe's face_detection_front options: strides 8, 16, 16, 16 with 2 anchors each, fixed size, offset 0.5. */
function frontAnchors(): Array<[number, number]> {
  const anchors: Array<[number, number]> = [];
  for (const [grid, perCell] of [
    [16, 2],
    [8, 6],
  ] as const) {
    for (let y = 0; y < grid; y++) for (let x = 0; x < grid; x++) for (let k = 0; k < perCell; k++) anchors.push([(x + 0.5) / grid, (y + 0.5) / grid]);
  }
  return anchors;
}
const ANCHORS = frontAnchors();

/** MediaPipe's own threshold for this model; below it a "face" is usually a pattern in the background. */
export const MIN_FACE_SCORE = 0.75;
const NMS_IOU = 0.3;

/** Frames are decoded at this size (letterboxed): the first pass looks at them shrunk to 128, the second at a crop around the face. */
export const FACE_FRAME_SIZE = 384;
/** The second pass's crop: a square this many times the first pass's face width, so the face fills about half of it. */
const REFINE_CROP = 2;

export interface FaceDetector {
  /**
   * Faces in each of `count` RGB frames of FACE_FRAME_SIZE squared (letterboxed), best first, in the frame's units
   * (0..1). Each face found is looked at again in a crop around it, which makes its keypoints about three times finer.
   */
  detect(frames: Uint8Array, count: number): Promise<FaceDetection[][]>;
}

export async function createFaceDetector(modelPath: string): Promise<FaceDetector> {
  const session = await ort.InferenceSession.create(modelPath, { logSeverityLevel: 3 });
  const input = 'input:0';
  const outputs = ['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0'];
  if (!session.inputNames.includes(input)) throw new Error(`the face model ${modelPath} has no input ${input} (it has ${session.inputNames.join(', ')})`);
  for (const name of outputs)
    if (!session.outputNames.includes(name)) throw new Error(`the face model ${modelPath} has no output ${name} (it has ${session.outputNames.join(', ')})`);
  const run = async (pixels: Float32Array): Promise<FaceDetection[]> => {
    const result = await session.run({ [input]: new ort.Tensor('float32', pixels, [1, FACE_INPUT_SIZE, FACE_INPUT_SIZE, 3]) });
    const [s0, s1, b0, b1] = outputs.map((name) => result[name]!.data as Float32Array);
    return decode([...s0!, ...s1!], b0!, b1!);
  };
  const frameBytes = FACE_FRAME_SIZE * FACE_FRAME_SIZE * 3;
  return {
    async detect(frames, count) {
      const out: FaceDetection[][] = [];
      for (let f = 0; f < count; f++) {
        const frame = frames.subarray(f * frameBytes, (f + 1) * frameBytes);
        const faces: FaceDetection[] = [];
        for (const face of await run(sample(frame, 0.5, 0.5, 1))) {
          const side = Math.min(1, face.w * REFINE_CROP);
          const refined = (await run(sample(frame, face.cx, face.cy, side))).find((r) => Math.abs(r.cx - 0.5) < 0.25 && Math.abs(r.cy - 0.5) < 0.25);
          // Back from the crop's units to the frame's; a face the closer look does not confirm keeps the first pass.
          const x = (u: number) => face.cx + (u - 0.5) * side;
          const y = (v: number) => face.cy + (v - 0.5) * side;
          faces.push(
            refined
              ? {
                  score: refined.score,
                  cx: x(refined.cx),
                  cy: y(refined.cy),
                  w: refined.w * side,
                  h: refined.h * side,
                  keypoints: refined.keypoints.map(([u, v]) => [x(u), y(v)]),
                }
              : face,
          );
        }
        out.push(faces);
      }
      return out;
    },
  };
}

/** The square of side `side` (frame units) centred at (cx, cy), bilinearly resampled to the model's input, in [-1, 1]; outside the frame is black. */
function sample(frame: Uint8Array, cx: number, cy: number, side: number): Float32Array {
  const n = FACE_INPUT_SIZE;
  const S = FACE_FRAME_SIZE;
  const out = new Float32Array(n * n * 3);
  const step = (side * S) / n;
  const x0 = (cx - side / 2) * S;
  const y0 = (cy - side / 2) * S;
  for (let j = 0; j < n; j++) {
    const sy = y0 + (j + 0.5) * step - 0.5;
    const iy = Math.floor(sy);
    const fy = sy - iy;
    for (let i = 0; i < n; i++) {
      const sx = x0 + (i + 0.5) * step - 0.5;
      const ix = Math.floor(sx);
      const fx = sx - ix;
      for (let c = 0; c < 3; c++) {
        const at = (px: number, py: number) => (px < 0 || py < 0 || px >= S || py >= S ? 0 : frame[(py * S + px) * 3 + c]!);
        const v = (1 - fy) * ((1 - fx) * at(ix, iy) + fx * at(ix + 1, iy)) + fy * ((1 - fx) * at(ix, iy + 1) + fx * at(ix + 1, iy + 1));
        out[(j * n + i) * 3 + c] = v / 127.5 - 1;
      }
    }
  }
  return out;
}

function decode(scores: number[], boxes0: Float32Array, boxes1: Float32Array): FaceDetection[] {
  const candidates: FaceDetection[] = [];
  const split = boxes0.length / 16;
  for (let i = 0; i < ANCHORS.length; i++) {
    const score = 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, scores[i]!))));
    if (score < MIN_FACE_SCORE) continue;
    const raw = i < split ? boxes0.subarray(i * 16, i * 16 + 16) : boxes1.subarray((i - split) * 16, (i - split) * 16 + 16);
    const [ax, ay] = ANCHORS[i]!;
    const keypoints: Array<[number, number]> = [];
    for (let k = 0; k < 6; k++) keypoints.push([raw[4 + 2 * k]! / FACE_INPUT_SIZE + ax, raw[5 + 2 * k]! / FACE_INPUT_SIZE + ay]);
    candidates.push({
      score,
      cx: raw[0]! / FACE_INPUT_SIZE + ax,
      cy: raw[1]! / FACE_INPUT_SIZE + ay,
      w: raw[2]! / FACE_INPUT_SIZE,
      h: raw[3]! / FACE_INPUT_SIZE,
      keypoints,
    });
  }
  // Weighted non-maximum suppression, as MediaPipe does: overlapping anchors vote for one face.
  candidates.sort((a, b) => b.score - a.score);
  const faces: FaceDetection[] = [];
  const used = new Set<number>();
  for (let i = 0; i < candidates.length; i++) {
    if (used.has(i)) continue;
    const group = candidates.filter((c, j) => !used.has(j) && iou(candidates[i]!, c) > NMS_IOU);
    candidates.forEach((c, j) => group.includes(c) && used.add(j));
    const total = group.reduce((a, c) => a + c.score, 0);
    const avg = (get: (c: FaceDetection) => number) => group.reduce((a, c) => a + get(c) * c.score, 0) / total;
    faces.push({
      score: candidates[i]!.score,
      cx: avg((c) => c.cx),
      cy: avg((c) => c.cy),
      w: avg((c) => c.w),
      h: avg((c) => c.h),
      keypoints: candidates[i]!.keypoints.map((_, k) => [avg((c) => c.keypoints[k]![0]), avg((c) => c.keypoints[k]![1])]),
    });
  }
  return faces;
}

function iou(a: FaceDetection, b: FaceDetection): number {
  const ix = Math.max(0, Math.min(a.cx + a.w / 2, b.cx + b.w / 2) - Math.max(a.cx - a.w / 2, b.cx - b.w / 2));
  const iy = Math.max(0, Math.min(a.cy + a.h / 2, b.cy + b.h / 2) - Math.max(a.cy - a.h / 2, b.cy - b.h / 2));
  const inter = ix * iy;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/**
 * How far `b`'s keypoints stray from the best similarity transform (scale, rotation, shift) of `a`'s, as the RMS
 * residual over the face's width. A photograph panned, zoomed or turned in the image plane moves its keypoints by one
 * such transform, leaving only the detector's jitter; a face that talks or turns moves them against each other.
 */
export function nonRigidResidual(a: ReadonlyArray<[number, number]>, b: ReadonlyArray<[number, number]>, faceWidth: number): number {
  const n = a.length;
  const mean = (pts: ReadonlyArray<[number, number]>) => pts.reduce(([sx, sy], [x, y]) => [sx + x / n, sy + y / n], [0, 0]);
  const [ax, ay] = mean(a);
  const [bx, by] = mean(b);
  // Least squares in complex form: b - mb ≈ z (a - ma), z = sum(conj(a') b') / sum(|a'|^2).
  let re = 0;
  let im = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const [px, py] = [a[i]![0] - ax, a[i]![1] - ay];
    const [qx, qy] = [b[i]![0] - bx, b[i]![1] - by];
    re += px * qx + py * qy;
    im += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (norm === 0) return 0;
  const [zr, zi] = [re / norm, im / norm];
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const [px, py] = [a[i]![0] - ax, a[i]![1] - ay];
    const dx = bx + zr * px - zi * py - b[i]![0];
    const dy = by + zi * px + zr * py - b[i]![1];
    sq += dx * dx + dy * dy;
  }
  return Math.sqrt(sq / n) / faceWidth;
}
