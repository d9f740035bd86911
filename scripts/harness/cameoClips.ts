// Cameo recordings made of real media, for tests and the fixture recorder, through the real verifier: a public-domain
// photograph of a face (scikit-image's astronaut.png, NASA's portrait of Eileen Collins) and real read speech with its
// transcript (LibriVox recordings in Debian's pocketsphinx-testdata), both fetched by `node scripts/bootstrap.js --test`.
// No package ships a video of a real person talking, so the "live" face is the photograph animated with ffmpeg filters:
// the face turns a little (its middle shifts sideways against its outline) and the jaw drops and closes. That passes
// the keypoint liveness check as a talking face would, which is exactly what the check cannot tell apart (README).
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../infra/config';
import { createFfmpeg } from '../../infra/media/ffmpeg';
import { readTools } from '../../infra/tools';
import { clipFolder } from './clips';

/** The recording said as the challenge phrase in tests (5.3 s) and another sentence of the same reader (7.1 s). */
export const PHRASE_RECORDING = 'sense_and_sensibility_01_austen_64kb-0890';
export const OTHER_RECORDING = 'sense_and_sensibility_01_austen_64kb-0870';

export type CameoPicture = 'live' | 'photo' | 'noise';
export type CameoSound = 'phrase' | 'other' | 'music' | 'noise';

function media(name: 'speechRecordings' | 'facePhoto'): string {
  const tool = readTools()[name];
  if (!tool?.path) throw new Error(`.tools/tools.json names no ${name}: run \`node scripts/bootstrap.js --test\` (npm test does)`);
  return tool.path;
}

/** The transcript of a LibriVox recording of pocketsphinx-testdata, as its `transcription` file gives it. */
export function recordingTranscript(recording: string): string {
  const lines = fs.readFileSync(path.join(media('speechRecordings'), 'librivox', 'transcription'), 'utf8').split('\n');
  const line = lines.find((l) => l.endsWith(`(${recording})`));
  if (!line) throw new Error(`no transcript of ${recording} in pocketsphinx-testdata`);
  return line
    .replace(/\([^)]*\)$/, '')
    .replace(/<\/?s>/g, '')
    .trim()
    .replace(/\s+/g, ' ');
}

/** The challenge phrase the tests ask for: what PHRASE_RECORDING says. */
export function cameoTestPhrase(): string {
  return recordingTranscript(PHRASE_RECORDING);
}

/** A file with the test phrase alone, for CAMEO_PHRASES: every challenge the API issues then asks for it. */
export function cameoPhrasesFile(): string {
  const file = path.join(clipFolder(), 'cameo-phrases.txt');
  fs.writeFileSync(file, `${cameoTestPhrase()}\n`);
  return file;
}

// The face photograph is cropped to the head and shoulders (256 px square) and shown at 480x480. The animation works on
// a 240 px copy (geq is slow) with displacements in its pixels: the middle of the face (x 60..180, y 50..200) sways by
// up to 16 px at 0.7 Hz, the jaw (x 70..170, y 128..200) drops by up to 14 px at 1.3 Hz.
const SWAY = 'between(X,60,180)*between(Y,50,200)*16*sin(2*PI*0.7*T)*sin(PI*(X-60)/120)*sin(PI*(Y-50)/150)';
const JAW = 'between(X,70,170)*between(Y,128,200)*14*abs(sin(2*PI*1.3*T))*sin(PI*(X-70)/100)*sin(PI*(Y-128)/72)';
const PICTURES: Record<CameoPicture, (photo: string) => { inputs: string[]; filter: string }> = {
  live: (photo) => ({
    inputs: ['-loop', '1', '-framerate', '15', '-i', photo],
    filter: `crop=256:256:97:10,scale=240:240,format=gbrp,geq=r='r(X-${SWAY},Y-${JAW})':g='g(X-${SWAY},Y-${JAW})':b='b(X-${SWAY},Y-${JAW})',scale=480:480`,
  }),
  // The photograph zoomed (1.3x-1.9x) and panned: everything in it moves, rigidly.
  photo: (photo) => ({
    inputs: ['-loop', '1', '-framerate', '25', '-i', photo],
    filter:
      "scale=1024:1024,zoompan=z='1.6+0.3*sin(2*PI*on/100)':x='iw/2-(iw/zoom/2)+60*sin(2*PI*on/75)':y='ih/4-(ih/zoom/2)+40*cos(2*PI*on/90)':d=1:s=480x480:fps=25",
  }),
  // Moving grey noise: a picture that changes all the time, with no face in it.
  noise: () => ({ inputs: ['-f', 'lavfi', '-i', 'color=c=gray:s=480x480:r=25'], filter: 'noise=alls=80:allf=t' }),
};

/** A synthetic tune (two voices of square-ish tones stepping through a scale) or pink noise, 16 kHz. */
const SOUNDS: Record<'music' | 'noise', string> = {
  music:
    "aevalsrc='0.15*(sin(2*PI*t*220*pow(2,floor(mod(t*3,4))*4/12))+sin(2*PI*t*330*pow(2,floor(mod(t*3,4))*4/12))+0.5*sin(2*PI*t*440*pow(2,floor(mod(t*6,5))*2/12)))*(0.6+0.4*mod(-t*3,1))':s=16000",
  noise: 'anoisesrc=color=pink:amplitude=0.3:r=16000',
};

/**
 * A cameo recording of `picture` over `sound`, H.264 + AAC in MP4: the speech starts 0.7 s in and is followed by 0.5 s
 * of silence (the synthetic sounds last 6.5 s). Made once per test run and shared (the checks only read it).
 */
export async function cameoClip(picture: CameoPicture, sound: CameoSound): Promise<string> {
  const file = path.join(clipFolder(), `cameo-${picture}-${sound}.mp4`);
  if (fs.existsSync(file)) return file;
  const pic = PICTURES[picture](media('facePhoto'));
  const speech = sound === 'phrase' || sound === 'other';
  const audioInput = speech
    ? ['-i', path.join(media('speechRecordings'), 'librivox', `${sound === 'phrase' ? PHRASE_RECORDING : OTHER_RECORDING}.wav`)]
    : ['-f', 'lavfi', '-i', SOUNDS[sound]];
  const audioFilter = speech ? 'adelay=700:all=1,apad=pad_dur=0.5' : 'anull';
  const durationS = speech ? undefined : 6.5;
  // Written under a temporary name and renamed: test files in parallel may make the same clip.
  const partial = `${file}.${process.pid}.partial.mp4`;
  await createFfmpeg({ ffmpegPath: loadConfig().ffmpegPath }).run(
    [
      ...['-loglevel', 'error', '-y', ...pic.inputs, ...audioInput],
      ...['-filter_complex', `[0:v]${pic.filter},format=yuv420p[v];[1:a]${audioFilter}[a]`, '-map', '[v]', '-map', '[a]'],
      // The picture is an endless loop: the sound decides the length (apad would pad it forever without -shortest's help).
      ...(durationS ? ['-t', String(durationS)] : ['-shortest']),
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart', partial],
    ],
    `making a cameo test clip (${picture} picture, ${sound} sound)`,
  );
  fs.renameSync(partial, file);
  return file;
}

/** The recording every test that needs an accepted cameo uploads: the animated face saying cameoTestPhrase(). */
export function liveCameoClip(): Promise<string> {
  return cameoClip('live', 'phrase');
}
