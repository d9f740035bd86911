// Users: an admin creates one (its API key is shown in that response only) and moves one to another tier, and any
// caller reads who they are.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_TIER, type TierTable } from '../../infra/tiers';
import { InvalidUserError, NAME_MAX_CHARS, NAME_MIN_CHARS, ROLES, type Role, type User, type UserStore } from '../../infra/users/port';
import { callerOf, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';

// One `enum` rather than a union of literals: ajv then reports one error ("must be equal to one of the allowed
// values") instead of one per role plus an anyOf failure.
const RoleSchema = Type.Unsafe<Role>({ type: 'string', enum: [...ROLES], description: 'What the user may do' });

const TierName = Type.String({
  pattern: '^[a-z0-9][a-z0-9_-]{0,31}$',
  description: `A tier the deployment defines (TIERS_FILE; \`${DEFAULT_TIER}\` always): the user's request rate, concurrent-job limit, daily budget and GPU weight`,
});

export const UpdateUserBody = Type.Object({ tier: TierName }, { title: 'UpdateUser', additionalProperties: false });
export type UpdateUserBody = Static<typeof UpdateUserBody>;

const UserIdParams = Type.Object({ id: Type.String({ pattern: '^user_[0-9a-f]{32}$', description: '`user_` + 32 hex digits' }) });
type UserIdParams = Static<typeof UserIdParams>;

export const CreateUserBody = Type.Object(
  {
    name: Type.String({ minLength: NAME_MIN_CHARS, maxLength: NAME_MAX_CHARS, pattern: '\\S', description: 'A display name; not unique' }),
    role: RoleSchema,
    tier: Type.Optional(TierName),
  },
  { title: 'CreateUser', additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

const userFields = {
  id: Type.String({ description: '`user_` + 32 hex digits' }),
  name: Type.String(),
  role: RoleSchema,
  tier: Type.String({ description: 'The tier its limits and GPU weight come from (`default` unless an admin set another)' }),
  created_at: Type.Integer({ description: 'Unix seconds' }),
};

export const UserObject = Type.Object(userFields, { title: 'User' });
export type UserObject = Static<typeof UserObject>;

export const CreatedUserObject = Type.Object(
  { ...userFields, api_key: Type.String({ description: 'The API key, in this response only: it is stored hashed and cannot be shown again' }) },
  { title: 'CreatedUser' },
);
export type CreatedUserObject = Static<typeof CreatedUserObject>;

export function toUserObject(user: User): UserObject {
  return { id: user.id, name: user.name, role: user.role, tier: user.tier, created_at: Math.floor(user.createdAt.getTime() / 1000) };
}

export interface UsersRoutesOptions {
  users: UserStore;
  tiers: TierTable;
}

/** 422 `unknown_tier`: a well-formed tier name the deployment does not define. */
function checkTier(tiers: TierTable, tier: string | undefined): void {
  if (tier === undefined || tiers.has(tier)) return;
  throw new ProblemError({
    status: 422,
    code: 'unknown_tier',
    detail: `there is no tier "${tier}" here; the tiers are ${tiers.names().join(', ')} (TIERS_FILE)`,
    errors: [{ field: 'tier', message: `must be one of ${tiers.names().join(', ')}` }],
  });
}

export const usersRoutes: FastifyPluginAsync<UsersRoutesOptions> = async (app, options) => {
  app.post<{ Body: CreateUserBody }>(
    '/v1/users',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['users'],
        summary: 'Create a user and its API key',
        body: CreateUserBody,
        response: {
          201: CreatedUserObject,
          400: problemResponse('The body fails the schema; `errors` names each field'),
          422: problemResponse('`tier` names no tier of this deployment (`unknown_tier`)'),
        },
      },
    },
    async (request, reply) => {
      checkTier(options.tiers, request.body.tier);
      try {
        const { user, apiKey } = await options.users.createUser({
          name: request.body.name,
          role: request.body.role,
          ...(request.body.tier !== undefined ? { tier: request.body.tier } : {}),
        });
        request.log.info({ createdUserId: user.id, role: user.role }, 'user created');
        reply.status(201);
        return { ...toUserObject(user), api_key: apiKey } satisfies CreatedUserObject;
      } catch (err) {
        // The schema checks the same rules first; this keeps a drift between the two a 400, not a 500.
        if (err instanceof InvalidUserError) throw new ProblemError({ status: 400, code: 'validation_failed', detail: err.message, errors: err.errors });
        throw err;
      }
    },
  );

  app.patch<{ Params: UserIdParams; Body: UpdateUserBody }>(
    '/v1/users/:id',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['users'],
        summary: 'Move a user to another tier (admin): their limits and GPU weight change from their next request',
        description: 'Videos already asked for keep the priority they were started with.',
        params: UserIdParams,
        body: UpdateUserBody,
        response: {
          200: UserObject,
          400: problemResponse('The body fails the schema; `errors` names each field'),
          404: problemResponse('No such user (`user_not_found`)'),
          422: problemResponse('`tier` names no tier of this deployment (`unknown_tier`)'),
        },
      },
    },
    async (request) => {
      checkTier(options.tiers, request.body.tier);
      const user = await options.users.setTier(request.params.id, request.body.tier);
      if (!user) throw new ProblemError({ status: 404, code: 'user_not_found', detail: `no user ${request.params.id}` });
      request.log.info({ changedUserId: user.id, tier: user.tier }, 'user tier changed');
      return toUserObject(user);
    },
  );

  app.get(
    '/v1/users/me',
    { schema: { tags: ['users'], summary: 'The caller: the user the API key belongs to', response: { 200: UserObject } } },
    async (request) => toUserObject(callerOf(request)),
  );
};
