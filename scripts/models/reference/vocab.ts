// The reference pack's vocabulary: the ordered words text.onnx knows, each with the scene features its embedding row carries.
// The order is part of the pack (token id = 1 + index, written to reference/vocab.json): append, never reorder. The
// entries with their features are written to reference/vocab-features.json, which remixes read.
import type { VocabEntry } from '../../../gpu-workers/engine/vocabulary';

export type { Rgb, VocabEntry } from '../../../gpu-workers/engine/vocabulary';

export const HASH_BUCKETS = 1024;
export const MAX_TOKENS = 64;

const colours: VocabEntry[] = (
  [
    ['red', [0.9, 0.1, 0.1]],
    ['orange', [1, 0.55, 0.05]],
    ['yellow', [1, 0.9, 0.1]],
    ['green', [0.1, 0.75, 0.2]],
    ['blue', [0.1, 0.3, 0.95]],
    ['purple', [0.55, 0.15, 0.8]],
    ['violet', [0.6, 0.3, 0.9]],
    ['pink', [1, 0.45, 0.7]],
    ['white', [0.95, 0.95, 0.95]],
    ['black', [0.08, 0.08, 0.08]],
    ['grey', [0.5, 0.5, 0.5]],
    ['gray', [0.5, 0.5, 0.5]],
    ['brown', [0.5, 0.3, 0.12]],
    ['cyan', [0.1, 0.85, 0.9]],
    ['teal', [0.05, 0.55, 0.55]],
    ['magenta', [0.9, 0.1, 0.8]],
    ['gold', [0.95, 0.75, 0.2]],
    ['golden', [0.95, 0.75, 0.2]],
    ['silver', [0.78, 0.8, 0.83]],
    ['turquoise', [0.2, 0.85, 0.75]],
    ['lime', [0.6, 0.95, 0.2]],
    ['navy', [0.05, 0.1, 0.45]],
    ['crimson', [0.75, 0.05, 0.2]],
    ['scarlet', [1, 0.15, 0.05]],
    ['indigo', [0.3, 0.1, 0.6]],
    ['maroon', [0.5, 0.05, 0.1]],
    ['coral', [1, 0.5, 0.4]],
    ['amber', [1, 0.75, 0]],
  ] as const
).map(([word, colour]) => ({ word, colour }));

const numberWords = [
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty',
];
const digitValues = [...Array.from({ length: 21 }, (_, i) => i), 25, 30, 40, 50, 60, 100];

const numbers: VocabEntry[] = [
  ...numberWords.map((word, value) => ({ word, value })),
  ...digitValues.map((value) => ({ word: String(value), value })),
  // The tokenizer keeps "5hz" as one word, so fused rates are entries of their own.
  ...Array.from({ length: 20 }, (_, i) => ({ word: `${i + 1}hz`, value: i + 1, hz: true })),
  ...(
    [
      ['a', 1], ['an', 1], ['single', 1], ['lone', 1], ['couple', 2], ['pair', 2], ['few', 3],
      ['several', 5], ['many', 7], ['dozen', 12],
    ] as const
  ).map(([word, value]) => ({ word, value })),
];

const nouns: VocabEntry[] = [
  ['ball', 'balls'], ['sphere', 'spheres'], ['bubble', 'bubbles'], ['marble', 'marbles'], ['orb', 'orbs'],
  ['body', 'bodies'], ['drop', 'drops'], ['droplet', 'droplets'], ['planet', 'planets'], ['stone', 'stones'],
  ['rock', 'rocks'], ['pebble', 'pebbles'], ['moon', 'moons'], ['dot', 'dots'], ['circle', 'circles'],
  ['blob', 'blobs'], ['bead', 'beads'], ['apple', 'apples'], ['snowball', 'snowballs'], ['boulder', 'boulders'],
].flatMap(([one, many]) => [
  { word: one!, noun: 'one' as const },
  { word: many!, noun: 'many' as const },
]);

const modifiers: VocabEntry[] = [
  { word: 'slow', speed: -1 },
  { word: 'slowly', speed: -1 },
  { word: 'sluggish', speed: -1.2 },
  { word: 'lazy', speed: -0.8 },
  { word: 'gentle', speed: -0.5, bounce: -0.5 },
  { word: 'gently', speed: -0.5, bounce: -0.5 },
  { word: 'drifting', speed: -0.6, gravity: -0.5 },
  { word: 'floating', speed: -0.5, gravity: -1.5 },
  { word: 'weightless', gravity: -2 },
  { word: 'fast', speed: 1 },
  { word: 'quick', speed: 1 },
  { word: 'quickly', speed: 1 },
  { word: 'rapid', speed: 1 },
  { word: 'rapidly', speed: 1 },
  { word: 'speedy', speed: 1.2 },
  { word: 'frantic', speed: 1.5 },
  { word: 'wild', speed: 1, bounce: 0.5 },
  { word: 'chaotic', speed: 1.2, bounce: 0.5 },
  { word: 'bouncy', bounce: 2 },
  { word: 'bouncing', bounce: 1 },
  { word: 'springy', bounce: 2 },
  { word: 'elastic', bounce: 2 },
  { word: 'rubber', bounce: 1.5 },
  { word: 'soft', bounce: -1.5 },
  { word: 'heavy', bounce: -3, density: 1.5, size: 0.5 },
  { word: 'dense', density: 1, bounce: -1 },
  { word: 'light', density: -1, bounce: 0.5 },
  { word: 'feather', density: -2, gravity: -1 },
  { word: 'giant', size: 2 },
  { word: 'huge', size: 1.7 },
  { word: 'enormous', size: 2 },
  { word: 'massive', size: 1.5, density: 0.5 },
  { word: 'big', size: 1 },
  { word: 'large', size: 1 },
  { word: 'medium' },
  { word: 'small', size: -1 },
  { word: 'little', size: -1 },
  { word: 'mini', size: -1.5 },
  { word: 'tiny', size: -2 },
  { word: 'rain', rain: true, loudness: 0.2 },
  { word: 'raining', rain: true, loudness: 0.2 },
  { word: 'rainy', rain: true, loudness: 0.2 },
  { word: 'raindrop', rain: true, noun: 'one' },
  { word: 'raindrops', rain: true, noun: 'many' },
  { word: 'drizzle', rain: true },
  { word: 'downpour', rain: true, loudness: 0.5 },
  { word: 'of', of: true },
  { word: 'strobe', strobe: true },
  { word: 'strobes', strobe: true },
  { word: 'strobing', strobe: true },
  { word: 'flash', strobe: true },
  { word: 'flashes', strobe: true },
  { word: 'flashing', strobe: true },
  { word: 'blink', strobe: true },
  { word: 'blinking', strobe: true },
  { word: 'flicker', strobe: true },
  { word: 'flickering', strobe: true },
  { word: 'hz', hz: true },
  { word: 'hertz', hz: true },
];

// Backgrounds and ambience: a setting word colours the backdrop and tunes the ambient bed.
const settings: VocabEntry[] = [
  { word: 'night', background: [0.03, 0.04, 0.12], brightness: -0.4, loudness: -0.1 },
  { word: 'midnight', background: [0.02, 0.02, 0.08], brightness: -0.5, loudness: -0.1 },
  { word: 'dark', background: [0.05, 0.05, 0.07], brightness: -0.4 },
  { word: 'space', background: [0.01, 0.01, 0.04], brightness: -0.5, gravity: -1.5, loudness: -0.2, pitch: -1 },
  { word: 'sunset', background: [0.95, 0.5, 0.2], brightness: 0.1, pitch: -0.3 },
  { word: 'dusk', background: [0.4, 0.25, 0.4], brightness: -0.2 },
  { word: 'dawn', background: [0.95, 0.7, 0.55], brightness: 0.1 },
  { word: 'sunrise', background: [0.98, 0.65, 0.4], brightness: 0.1 },
  { word: 'day', background: [0.6, 0.8, 0.98], brightness: 0.3 },
  { word: 'daylight', background: [0.65, 0.82, 0.98], brightness: 0.3 },
  { word: 'sunny', background: [0.65, 0.85, 1], brightness: 0.4 },
  { word: 'bright', background: [0.88, 0.9, 0.94], brightness: 0.4 },
  { word: 'sky', background: [0.5, 0.7, 0.95], brightness: 0.2 },
  { word: 'underwater', background: [0.05, 0.3, 0.5], pitch: -0.7, speed: -0.5, gravity: -0.5 },
  { word: 'ocean', background: [0.1, 0.35, 0.6], pitch: -0.5, loudness: 0.1 },
  { word: 'sea', background: [0.1, 0.4, 0.6], pitch: -0.5, loudness: 0.1 },
  { word: 'forest', background: [0.1, 0.3, 0.12], pitch: 0.4 },
  { word: 'jungle', background: [0.05, 0.35, 0.1], pitch: 0.5, loudness: 0.2 },
  { word: 'desert', background: [0.85, 0.7, 0.45], brightness: 0.3, loudness: -0.2 },
  { word: 'snow', background: [0.92, 0.94, 0.98], brightness: 0.3, loudness: -0.3 },
  { word: 'snowy', background: [0.92, 0.94, 0.98], brightness: 0.3, loudness: -0.3 },
  { word: 'winter', background: [0.8, 0.85, 0.92], brightness: 0.1, loudness: -0.2 },
  { word: 'cave', background: [0.1, 0.08, 0.06], brightness: -0.3, pitch: -0.5 },
  { word: 'fog', background: [0.6, 0.62, 0.65], loudness: -0.2 },
  { word: 'foggy', background: [0.6, 0.62, 0.65], loudness: -0.2 },
  { word: 'studio', background: [0.85, 0.85, 0.85] },
  { word: 'storm', background: [0.2, 0.22, 0.28], loudness: 0.4, pitch: -1, wind: 0.5 },
  { word: 'stormy', background: [0.2, 0.22, 0.28], loudness: 0.4, pitch: -1, wind: 0.5 },
  { word: 'thunder', loudness: 0.5, pitch: -1.2 },
  { word: 'calm', loudness: -0.3, pitch: 0.2, speed: -0.3 },
  { word: 'peaceful', loudness: -0.3, pitch: 0.2, speed: -0.3 },
  { word: 'quiet', loudness: -0.4 },
  { word: 'silent', loudness: -1.2 },
  { word: 'loud', loudness: 0.4 },
  { word: 'noisy', loudness: 0.3, pitch: 0.3 },
  { word: 'wind', loudness: 0.2, pitch: -0.3, wind: 1 },
  { word: 'windy', loudness: 0.2, pitch: -0.3, wind: 1 },
  { word: 'breeze', loudness: 0.1, wind: 0.5 },
];

// Common glue words: known ids, no features beyond their small per-word jitter.
const glue: VocabEntry[] = ['the', 'and', 'with', 'in', 'on', 'at', 'to', 'into', 'from', 'over', 'under', 'very', 'some'].map(
  (word) => ({ word }),
);

export const VOCAB: readonly VocabEntry[] = [...colours, ...numbers, ...nouns, ...modifiers, ...settings, ...glue];

export const VOCAB_WORDS: readonly string[] = VOCAB.map((e) => e.word);
