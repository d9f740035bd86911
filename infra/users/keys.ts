// API keys and user ids: how they are made, recognised and hashed for storage.
import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'rf_';
const KEY_BYTES = 32;
// 32 bytes in base64url without padding are 43 characters.
const KEY_PATTERN = /^rf_[A-Za-z0-9_-]{43}$/;

/** `rf_` + 32 random bytes, base64url: 256 bits, and the prefix makes a leaked key easy to recognise and scan for. */
export function newApiKey(): string {
  return KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
}

/** Whether a string has the shape of one of our keys; anything else is refused without a database round trip. */
export function looksLikeApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

/**
 * What the database stores: SHA-256, hex. A slow password hash (bcrypt, scrypt) exists to make guessing low-entropy
 * passwords expensive; a 256-bit random key cannot be guessed, so a fast hash is as safe and keeps the lookup one
 * indexed query per request. Looking a key up by its hash also needs no constant-time compare: the hash of a guess
 * reveals nothing about any stored key, so timing differences in the index lookup leak nothing useful.
 */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

export function newUserId(): string {
  return `user_${randomBytes(16).toString('hex')}`;
}
