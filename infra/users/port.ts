// The users port: who may call the API (an id, a name, a role) and the API keys that say so. The API, the
// `user:create` script and tests depend on this, not on the PostgreSQL adapter behind it (infra/users/store.ts).

import { TIER_NAME } from '../tiers';

export const ROLES = ['user', 'moderator', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Bounds of a user's name; the API schema and the script check the same ones. */
export const NAME_MIN_CHARS = 1;
export const NAME_MAX_CHARS = 100;

export interface User {
  /** `user_` + 32 hex digits. */
  id: string;
  name: string;
  role: Role;
  /** The tier (infra/tiers.ts) its limits and GPU weight come from; `default` unless an admin set another. */
  tier: string;
  createdAt: Date;
}

export interface NewUser {
  name: string;
  role: Role;
  /** Absent: `default`. Whether the deployment has that tier is the caller's check (the API's, the script's). */
  tier?: string;
}

export interface CreatedUser {
  user: User;
  /** The key in clear: returned once, never stored (only its hash is). */
  apiKey: string;
}

/** What `$DATA_DIR/dev-keys.json` holds. */
export interface DevKeys {
  admin: string;
  user: string;
}

export type DevKeysResult =
  /** This call created the development users; the caller prints the keys (this is the only time they exist in clear
   * outside the file). */
  | { created: true; file: string; keys: DevKeys; admin: User; user: User }
  /** Users already existed (an earlier start, or another replica that won the race): nothing was created or written. */
  | { created: false; file: string };

export interface UserStore {
  createUser(input: NewUser): Promise<CreatedUser>;
  /** The key's owner; undefined for an unknown or malformed key. */
  findByKey(apiKey: string): Promise<User | undefined>;
  findById(id: string): Promise<User | undefined>;
  /** Moves the user to another tier; undefined when there is no such user. */
  setTier(id: string, tier: string): Promise<User | undefined>;
  /**
   * First start: when no user exists yet, creates a development admin and a development user and writes their keys
   * to `<dataDir>/dev-keys.json` (mode 0600). Safe to call from several replicas starting at once.
   */
  ensureDevKeys(dataDir: string): Promise<DevKeysResult>;
  close(): Promise<void>;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export interface FieldError {
  field: string;
  message: string;
}

/** A new user the store refuses; `errors` name the fields, as the API's validation errors do. */
export class InvalidUserError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'InvalidUserError';
  }
}

/** The same rules as the API's TypeBox schema, for callers that do not go through it (the script, the store). */
export function validateNewUser(input: { name?: unknown; role?: unknown; tier?: unknown }): FieldError[] {
  const errors: FieldError[] = [];
  const name = input.name;
  if (typeof name !== 'string') {
    errors.push({ field: 'name', message: 'is required' });
  } else if ([...name].length < NAME_MIN_CHARS || [...name].length > NAME_MAX_CHARS || name.trim() === '') {
    errors.push({ field: 'name', message: `must be ${NAME_MIN_CHARS} to ${NAME_MAX_CHARS} characters, not only spaces` });
  }
  if (input.role === undefined) {
    errors.push({ field: 'role', message: `is required (one of ${ROLES.join(', ')})` });
  } else if (!isRole(input.role)) {
    errors.push({ field: 'role', message: `must be one of ${ROLES.join(', ')}` });
  }
  if (input.tier !== undefined && (typeof input.tier !== 'string' || !TIER_NAME.test(input.tier))) {
    errors.push({ field: 'tier', message: 'must be a tier name: 1 to 32 of a-z, 0-9, "_" and "-"' });
  }
  return errors;
}
