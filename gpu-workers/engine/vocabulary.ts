// The scene features of a pack's words, as the pack ships them beside its graphs (the manifest's
// `tokenizer.features`, for the reference pack vocab-features.json): what a remix reads to know which features a
// prompt's words set.

export type Rgb = readonly [number, number, number];

/** One word and what it does to the scene; absent features are 0. Deltas add up over the prompt's words. */
export interface VocabEntry {
  readonly word: string;
  /** Body colour (0..1): bodies take the mentioned colours in order, cycling. */
  readonly colour?: Rgb;
  /** A number word or digit string: "3 balls" sets the count, "5 hz" the strobe rate. */
  readonly value?: number;
  /** A body noun; `one` (singular) alone makes the default count 1. */
  readonly noun?: 'one' | 'many';
  /** log2 of the speed factor: initial velocities scale by 2^speed, gravity by 2^(0.8 speed). */
  readonly speed?: number;
  /** log2 of an extra gravity factor (space, floating). */
  readonly gravity?: number;
  /** Restitution steps of 0.09 (bouncy up, heavy down); restitution stays in [0.1, 0.92]. */
  readonly bounce?: number;
  /** log2 of the density factor: mass = density x (radius / 0.06)^2. */
  readonly density?: number;
  /** Size steps: radius = 0.06 x 2^(0.6 size), kept in [0.02, 0.12]. */
  readonly size?: number;
  /** Rain: 8 small bodies falling from the top, ambient rain on. */
  readonly rain?: boolean;
  /** "of": "rain of ..." pelts the bodies down faster. */
  readonly of?: boolean;
  /** A strobe word: the background flashes (rate from "N hz", else the default). */
  readonly strobe?: boolean;
  /** "hz"/"hertz" (or a fused "5hz"): the number before it, or its own value, is the strobe rate. */
  readonly hz?: boolean;
  /** Background colour (0..1); several background words average. */
  readonly background?: Rgb;
  /** Ambient level delta (level = 0.3 + 0.25 x sum). */
  readonly loudness?: number;
  /** Ambient pitch in octaves (base_hz = 110 x 2^pitch). */
  readonly pitch?: number;
  /** Ambient brightness delta. */
  readonly brightness?: number;
  /** Sideways push on the initial velocities. */
  readonly wind?: number;
}
