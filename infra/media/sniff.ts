// What an uploaded file is, from its first bytes: uploads are judged by content, never by their name or the type the
// client claims, so a renamed photo or text file is recognised for what it is before ffmpeg ever reads it.

export type VideoContainer = 'mp4' | 'quicktime' | 'webm' | 'matroska' | 'mpegts' | 'avi';
export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

export type SniffedMedia = { kind: 'video'; container: VideoContainer } | { kind: 'image'; format: ImageFormat } | { kind: 'unknown' };

/** Enough of a file's head for every signature below (MPEG-TS needs its second packet's sync byte at 188 or 196). */
export const SNIFF_HEAD_BYTES = 512;

const TS_PACKET_BYTES = 188;
/** M2TS (AVCHD camcorders) prefixes each TS packet with a 4-byte timestamp. */
const M2TS_PACKET_BYTES = 192;

/**
 * ISO-BMFF major brands of still images (HEIF/HEIC photos, AVIF). They share the `ftyp` box with MP4, so without this
 * a phone photo would be taken for a video and fail later with a confusing "cannot decode" instead.
 */
const STILL_IMAGE_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'mif1', 'avif', 'avci']);

/** Top-level atoms a QuickTime file may start with when it predates the `ftyp` box. */
const LEGACY_QUICKTIME_ATOMS = new Set(['moov', 'mdat', 'wide', 'pnot']);

export function sniffMedia(head: Uint8Array): SniffedMedia {
  const ascii = (start: number, length: number) => (head.length >= start + length ? String.fromCharCode(...head.subarray(start, start + length)) : '');
  const bytesAre = (start: number, expected: readonly number[]) => head.length >= start + expected.length && expected.every((b, i) => head[start + i] === b);

  if (bytesAre(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'image', format: 'png' };
  if (bytesAre(0, [0xff, 0xd8, 0xff])) return { kind: 'image', format: 'jpeg' };
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return { kind: 'image', format: 'gif' };
  if (ascii(0, 4) === 'RIFF') {
    if (ascii(8, 4) === 'WEBP') return { kind: 'image', format: 'webp' };
    if (ascii(8, 4) === 'AVI ') return { kind: 'video', container: 'avi' };
    return { kind: 'unknown' }; // WAV and other RIFF files
  }
  if (ascii(4, 4) === 'ftyp') {
    const brand = ascii(8, 4);
    if (brand === 'qt  ') return { kind: 'video', container: 'quicktime' };
    if (STILL_IMAGE_BRANDS.has(brand)) return { kind: 'unknown' };
    return { kind: 'video', container: 'mp4' };
  }
  if (LEGACY_QUICKTIME_ATOMS.has(ascii(4, 4)) && boxSize(head) >= 8) return { kind: 'video', container: 'quicktime' };
  if (bytesAre(0, [0x1a, 0x45, 0xdf, 0xa3])) return { kind: 'video', container: ebmlDocType(head) === 'webm' ? 'webm' : 'matroska' };
  if (head[0] === 0x47 && head[TS_PACKET_BYTES] === 0x47) return { kind: 'video', container: 'mpegts' };
  if (head[4] === 0x47 && head[4 + M2TS_PACKET_BYTES] === 0x47) return { kind: 'video', container: 'mpegts' };
  return { kind: 'unknown' };
}

function boxSize(head: Uint8Array): number {
  return head.length >= 4 ? ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0 : 0;
}

/** The DocType string of an EBML header ("webm", "matroska"), or undefined when the head does not hold one. */
function ebmlDocType(head: Uint8Array): string | undefined {
  // The header is small (under 64 bytes in practice); scanning for the DocType element id 0x4282 is enough, and a
  // misread only changes webm into matroska, which ffmpeg reads the same way.
  const end = Math.min(head.length, 128);
  for (let i = 4; i + 2 < end; i++) {
    if (head[i] !== 0x42 || head[i + 1] !== 0x82) continue;
    const size = readVint(head, i + 2);
    if (!size || size.value > 32 || i + 2 + size.length + size.value > head.length) return undefined;
    const start = i + 2 + size.length;
    return String.fromCharCode(...head.subarray(start, start + size.value)).replace(/\0+$/, '');
  }
  return undefined;
}

/** An EBML variable-length integer: the count of leading zero bits of the first byte gives its length. */
function readVint(bytes: Uint8Array, at: number): { value: number; length: number } | undefined {
  const first = bytes[at];
  if (first === undefined || first === 0) return undefined;
  let length = 1;
  while (length <= 8 && (first & (0x80 >> (length - 1))) === 0) length++;
  if (at + length > bytes.length) return undefined;
  let value = first & (0xff >> length);
  for (let k = 1; k < length; k++) value = value * 256 + bytes[at + k]!;
  return { value, length };
}
