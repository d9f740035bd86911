// Audio/video sync as a listener hears it: every audible collision has an onset within the tolerance, and every
// onset found lies within the tolerance of some collision. Not one-to-one: impacts a few milliseconds apart (two
// bodies hitting the floor together) sound, and are detected, as one onset.
import type { Collision } from '../../domain/video';

export function syncReport(collisions: Collision[], onsets: number[], toleranceSamples: number, audibleSpeed = 0.4) {
  const near = (a: number, list: number[]) => list.some((b) => Math.abs(a - b) <= toleranceSamples);
  const all = collisions.map((c) => c.sample);
  const audible = [...new Set(collisions.filter((c) => c.speed >= audibleSpeed).map((c) => c.sample))];
  return {
    audible: audible.length,
    silent: audible.filter((s) => !near(s, onsets)),
    unexplained: onsets.filter((o) => !near(o, all)),
  };
}
