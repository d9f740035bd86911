// The challenge phrases a person says on camera to register a cameo: the built-in word list, and the rules for a
// phrase file (CAMEO_PHRASES). Pure: the API draws from them, the verifier builds its decoys from them.

/** Words per built-in phrase. */
export const PHRASE_WORDS = 4;

/**
 * Short, common, easy-to-say words, each clearly distinct when spoken; 200 of them and 4 per phrase give 1.6e9
 * phrases, enough that a recording made in advance for a guessed phrase is hopeless.
 */
export const WORDS: readonly string[] = [
  'apple',
  'arrow',
  'autumn',
  'baker',
  'banjo',
  'basket',
  'beach',
  'bicycle',
  'blanket',
  'bottle',
  'bridge',
  'bright',
  'bucket',
  'butter',
  'cabin',
  'camera',
  'candle',
  'canyon',
  'carpet',
  'castle',
  'cherry',
  'circle',
  'cliff',
  'clock',
  'cloud',
  'coffee',
  'copper',
  'corner',
  'cotton',
  'crayon',
  'dancer',
  'desert',
  'diamond',
  'dinner',
  'doctor',
  'dolphin',
  'donkey',
  'dragon',
  'drum',
  'eagle',
  'engine',
  'falcon',
  'feather',
  'fiddle',
  'forest',
  'fountain',
  'garden',
  'giant',
  'ginger',
  'glove',
  'golden',
  'guitar',
  'hammer',
  'harbor',
  'helmet',
  'honey',
  'island',
  'jacket',
  'jungle',
  'kettle',
  'kitten',
  'ladder',
  'lantern',
  'lemon',
  'letter',
  'lizard',
  'magnet',
  'mango',
  'marble',
  'meadow',
  'melon',
  'mirror',
  'monkey',
  'morning',
  'mountain',
  'muffin',
  'needle',
  'night',
  'noodle',
  'ocean',
  'olive',
  'orange',
  'orbit',
  'otter',
  'paddle',
  'palace',
  'panda',
  'paper',
  'parrot',
  'peach',
  'pencil',
  'pepper',
  'piano',
  'pillow',
  'pirate',
  'planet',
  'pocket',
  'potato',
  'puzzle',
  'rabbit',
  'radio',
  'rainbow',
  'river',
  'robot',
  'rocket',
  'saddle',
  'salmon',
  'sandal',
  'school',
  'shadow',
  'silver',
  'singer',
  'spider',
  'spoon',
  'squirrel',
  'station',
  'stone',
  'sugar',
  'summer',
  'sunset',
  'table',
  'teapot',
  'thunder',
  'ticket',
  'tiger',
  'tomato',
  'tower',
  'tractor',
  'treasure',
  'tulip',
  'turtle',
  'umbrella',
  'valley',
  'velvet',
  'violin',
  'wagon',
  'walnut',
  'window',
  'winter',
  'wizard',
  'yellow',
  'zebra',
  'anchor',
  'badger',
  'balloon',
  'barrel',
  'beetle',
  'biscuit',
  'blossom',
  'bonnet',
  'breeze',
  'bubble',
  'cactus',
  'canoe',
  'carrot',
  'cello',
  'cinnamon',
  'coconut',
  'comet',
  'cricket',
  'crystal',
  'daisy',
  'ember',
  'fossil',
  'galaxy',
  'glacier',
  'harvest',
  'hazel',
  'iceberg',
  'jasmine',
  'kayak',
  'koala',
  'lagoon',
  'lemonade',
  'lobster',
  'maple',
  'meteor',
  'mitten',
  'nectar',
  'nutmeg',
  'orchid',
  'pebble',
  'pelican',
  'penguin',
  'pickle',
  'pumpkin',
  'quilt',
  'raccoon',
  'ribbon',
  'saffron',
  'sapphire',
  'sparrow',
  'strawberry',
  'thimble',
  'toffee',
  'trumpet',
  'velcro',
  'waffle',
  'walrus',
  'whistle',
];

/** A phrase as the recogniser compares it: lower case, words of letters (and inner apostrophes) separated by one space. */
export function normalisePhrase(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z' ]+/g, ' ')
    .split(' ')
    .map((w) => w.replace(/^'+|'+$/g, ''))
    .filter((w) => w.length > 0)
    .join(' ');
}

export class InvalidPhraseFile extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPhraseFile';
  }
}

/**
 * The phrases of a CAMEO_PHRASES file: one per line; blank lines and lines starting with `#` are skipped. A phrase is
 * 2 to 20 words of English letters (apostrophes inside words allowed), so the recogniser can be asked for it.
 */
export function parsePhrases(text: string, source: string): string[] {
  const phrases: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!/^[A-Za-z]+(?:'[A-Za-z]+)*(?:\s+[A-Za-z]+(?:'[A-Za-z]+)*)*$/.test(line))
      throw new InvalidPhraseFile(`${source} line ${i + 1}: ${JSON.stringify(line)} is not a phrase of words of English letters`);
    const words = line.split(/\s+/).length;
    if (words < 2 || words > 20) throw new InvalidPhraseFile(`${source} line ${i + 1}: a phrase has 2 to 20 words, this one ${words}`);
    phrases.push(normalisePhrase(line));
  });
  if (phrases.length === 0) throw new InvalidPhraseFile(`${source} holds no phrase (one per line)`);
  return phrases;
}
