// The domain's own SHA-256 gives node:crypto's digest for any bytes and any string (UTF-8, lone surrogates included),
// and the cameo hash chain built on it reproduces the hashes recorded in a real cameo workflow's history.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, eventHash } from '../../domain/cameo';
import { sha256Hex } from '../../domain/sha256';
// A seeded generator, so a failure can be reproduced.
import { prng as random } from '../gpu-workers/support/scenes';

const nodeSha256 = (input: string | Uint8Array) => createHash('sha256').update(input).digest('hex');

describe('domain SHA-256', () => {
  it('gives the FIPS 180-4 digests of the standard test vectors', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    expect(sha256Hex('a'.repeat(1_000_000))).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  it('matches node:crypto on random bytes of every length around the 64-byte block and padding boundaries', () => {
    for (let length = 0; length <= 300; length++) {
      const bytes = new Uint8Array(randomBytes(length));
      expect({ length, hash: sha256Hex(bytes) }).toEqual({ length, hash: nodeSha256(bytes) });
    }
    for (const length of [1000, 4095, 4096, 65_537]) {
      const bytes = new Uint8Array(randomBytes(length));
      expect(sha256Hex(bytes)).toBe(nodeSha256(bytes));
    }
  });

  it('matches node:crypto on random strings of any code points, with pairs and lone surrogates hashed as UTF-8', () => {
    const next = random(15);
    const pick = (): string => {
      const r = next();
      if (r < 0.4) return String.fromCharCode(0x20 + Math.floor(next() * 0x5f));
      if (r < 0.6) return String.fromCharCode(0x80 + Math.floor(next() * 0x780));
      if (r < 0.75) return String.fromCharCode(0x800 + Math.floor(next() * (0xd800 - 0x800)));
      if (r < 0.9) return String.fromCodePoint(0x10000 + Math.floor(next() * 0xfffff));
      if (r < 0.95) return String.fromCharCode(0xd800 + Math.floor(next() * 0x800)); // a lone surrogate
      return String.fromCharCode(0xe000 + Math.floor(next() * 0x2000));
    };
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: Math.floor(next() * 120) }, pick).join('');
      expect({ text, hash: sha256Hex(text) }).toEqual({ text, hash: nodeSha256(text) });
    }
  });

  it("reproduces every chain hash recorded by the cameo workflow's appends in test/fixtures/histories/cameo.json", () => {
    const history = JSON.parse(readFileSync(join(__dirname, '../fixtures/histories/cameo.json'), 'utf8')) as { events: Record<string, any>[] };
    const payload = (p: { data: string }) => JSON.parse(Buffer.from(p.data, 'base64').toString('utf8'));
    const scheduled = new Map<string, any>();
    const checked: string[] = [];
    for (const e of history.events) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityType?.name === 'appendEvents') scheduled.set(String(e.eventId), payload(s.input.payloads[0]));
      const done = e.activityTaskCompletedEventAttributes;
      const input = done && scheduled.get(String(done.scheduledEventId));
      if (!input?.chain) continue;
      let prev: string = input.chain.prevHash;
      const first = input.expectedRevision === 'no_stream' ? 0 : Number(input.expectedRevision) + 1;
      (input.events as { type: string; data: unknown }[]).forEach((ev, i) => {
        const hash = eventHash(prev, first + i, ev.type, ev.data);
        expect(hash).toBe(nodeSha256(canonicalJson({ prev_hash: prev, revision: first + i, type: ev.type, data: ev.data })));
        prev = hash;
      });
      expect(prev).toBe(payload(done.result.payloads[0]).headHash);
      checked.push(prev);
    }
    expect(checked.length).toBeGreaterThanOrEqual(4);
  });
});
