// Remixing a scene: the source's bodies and layout stay, the new prompt's words change only what they name; what
// they name is read from the vocabulary through the tokenizer.
import type { Engine, Scene } from '../../gpu-workers/engine/engine';
import { InvalidRenderInput } from '../../gpu-workers/engine/errors';
import { promptMentions as mentionsIn, remixScene, vocabularyOf } from '../../gpu-workers/engine/remix';
import { testEngine } from '../support/pipeline';

const B = 8;
const rows = (xs: number[], stride: number) => Array.from({ length: xs.length / stride }, (_, i) => xs.slice(i * stride, (i + 1) * stride));
const active = (s: Scene) => rows(s.bodies, B).filter((b) => b[0]! > 0.5);
const layout = (s: Scene) => rows(s.bodies, B).map((b, i) => [b[0], b[4], ...s.initialState.slice(i * 4, i * 4 + 2)]);
const isBlue = (b: number[]) => b[3]! > 0.8 && b[1]! < 0.2 && b[2]! < 0.4;
const isRed = (b: number[]) => b[1]! > 0.8 && b[2]! < 0.2 && b[3]! < 0.2;

let engine: Engine;
/** What a prompt's words set, read with the vocabulary the loaded pack ships (vocab-features.json). */
const promptMentions = (prompt: string) => mentionsIn(prompt, vocabularyOf(engine.pack));
const describe3 = (prompt: string, seed = 7) => engine.describeScene(prompt, seed, '256x256');

beforeAll(async () => {
  engine = await testEngine();
});

describe('promptMentions', () => {
  it('names the features the words of the vocabulary set, and nothing for other words', () => {
    const m = promptMentions('Make them BLUE and add rain');
    expect([...m.features].sort()).toEqual(['colour', 'loudness', 'rain']);
    expect(m.colours).toEqual([[0.1, 0.3, 0.95]]);
    expect([...promptMentions('please do something nice').features]).toEqual([]);
    expect([...promptMentions('five balls, fast, in the wind').features].sort()).toEqual(['count', 'loudness', 'pitch', 'speed', 'wind']);
    expect(promptMentions('a windy storm').wind).toBeCloseTo(1.5);
  });
});

describe('remixScene', () => {
  it('"three red balls" remixed with "make them blue and add rain": three balls in the same places, blue, with rain', async () => {
    const source = await describe3('three red balls');
    const edit = await describe3('make them blue and add rain');
    const remixed = remixScene(source, edit, promptMentions('make them blue and add rain'));
    expect(active(source)).toHaveLength(3);
    expect(active(source).every(isRed)).toBe(true);
    expect(active(edit)).toHaveLength(8); // the edit prompt alone would make rain drops: the remix does not take them
    expect(layout(remixed)).toEqual(layout(source));
    expect(active(remixed)).toHaveLength(3);
    expect(active(remixed).every(isBlue)).toBe(true);
    expect(remixed.ambient[3]).toBe(1);
    expect(source.ambient[3]).toBe(0);
    // The sky darkens as rain does; the physics (gravity, walls, velocities) stay the source's.
    expect(remixed.world.slice(4, 7).every((v, c) => v < source.world[4 + c]!)).toBe(true);
    expect(remixed.world[0]).toBe(source.world[0]);
    expect(remixed.initialState).toEqual(source.initialState);
    expect({ pack: remixed.pack, seed: remixed.seed, width: remixed.width, height: remixed.height }).toEqual({
      pack: source.pack,
      seed: source.seed,
      width: 256,
      height: 256,
    });
  });

  it('keeps what the prompt does not name, and a count or size word does not move the layout', async () => {
    const source = await describe3('three red balls at night');
    const prompt = 'five huge balls';
    const remixed = remixScene(source, await describe3(prompt), promptMentions(prompt));
    expect(remixed).toEqual(source);
  });

  it('scales the velocities when the prompt names speed, and takes the named background', async () => {
    const source = await describe3('two green balls');
    const prompt = 'fast at sunset';
    const edit = await describe3(prompt);
    const remixed = remixScene(source, edit, promptMentions(prompt));
    expect(layout(remixed)).toEqual(layout(source));
    const factor = edit.world[7]! / source.world[7]!;
    expect(factor).toBeGreaterThan(1.5);
    expect(remixed.initialState[2]).toBeCloseTo(source.initialState[2]! * factor, 5);
    expect(remixed.world.slice(4, 7)).toEqual(edit.world.slice(4, 7));
    expect(active(remixed).map((b) => b.slice(1, 4))).toEqual(active(source).map((b) => b.slice(1, 4)));
    // The result is still a scene the engine renders.
    await expect(
      engine.renderVideoChunk({
        scene: remixed,
        state: remixed.initialState,
        startFrame: 0,
        numFrames: 1,
        size: '256x256',
        style: 'cinematic',
        camera: 'static',
      }),
    ).resolves.toMatchObject({ numFrames: 1 });
  });

  it('colours bodies the edit has no row for with the named colours in turn', async () => {
    const source = await describe3('six balls');
    const prompt = 'red and blue';
    const remixed = remixScene(source, await describe3(prompt), promptMentions(prompt));
    const colours = active(remixed);
    expect(colours).toHaveLength(6);
    colours.forEach((b, i) => expect(i % 2 === 0 ? isRed(b) : isBlue(b)).toBe(true));
  });

  it('refuses an edit described for another size', async () => {
    const source = await describe3('three red balls');
    const other = await engine.describeScene('blue', 7, '512x512');
    expect(() => remixScene(source, other, promptMentions('blue'))).toThrow(InvalidRenderInput);
  });
});
