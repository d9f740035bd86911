// Users: an admin creates one (its API key is shown in that response only), and any caller reads who they are.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { InvalidUserError, NAME_MAX_CHARS, NAME_MIN_CHARS, ROLES, type Role, type User, type UserStore } from '../../infra/users/port';
import { callerOf, problemResponse } from '../plugins/auth';
import { ProblemError } from '../plugins/errors';

// One `enum` rather than a union of literals: ajv then reports one error ("must be equal to one of the allowed
// values") instead of one per role plus an anyOf failure.
const RoleSchema = Type.Unsafe<Role>({ type: 'string', enum: [...ROLES], description: 'What the user may do' });

export const CreateUserBody = Type.Object(
  {
    name: Type.String({ minLength: NAME_MIN_CHARS, maxLength: NAME_MAX_CHARS, pattern: '\\S', description: 'A display name; not unique' }),
    role: RoleSchema,
  },
  { title: 'CreateUser' },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

const userFields = {
  id: Type.String({ description: '`user_` + 32 hex digits' }),
  name: Type.String(),
  role: RoleSchema,
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
  return { id: user.id, name: user.name, role: user.role, created_at: Math.floor(user.createdAt.getTime() / 1000) };
}

export interface UsersRoutesOptions {
  users: UserStore;
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
        response: { 201: CreatedUserObject, 400: problemResponse('The body fails the schema; `errors` names each field') },
      },
    },
    async (request, reply) => {
      try {
        const { user, apiKey } = await options.users.createUser({ name: request.body.name, role: request.body.role });
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

  app.get(
    '/v1/users/me',
    { schema: { tags: ['users'], summary: 'The caller: the user the API key belongs to', response: { 200: UserObject } } },
    async (request) => toUserObject(callerOf(request)),
  );
};
