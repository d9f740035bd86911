// Changing a cameo, by its owner: who may use it (its permission), grants to users and their revocation, and its
// deletion (an admin may delete it too). Each is an Update on the cameo's workflow, whose validator runs the decider.
import type { FastifyPluginAsync } from 'fastify';
import { changePermissionUpdate, deleteCameoUpdate, grantAccessUpdate, revokeAccessUpdate } from '../../workflows/definitions';
import { callerOf, hasRole, problemResponse } from '../plugins/auth';
import { contentRefusal, invalidParams, unprocessableResponse } from '../plugins/errors';
import { notFound, ownerOnly, refuseIfDeleted, toCameo, type CameosContext } from './context';
import { CameoIdParams, CameoObject, ChangePermissionBody, DeleteCameoQuery, DeletedCameo, GrantBody, GrantObject, GrantParams, RevokedGrant } from './schemas';

export const changeCameoRoutes: FastifyPluginAsync<CameosContext> = async (app, context) => {
  const { users, visibleCameo, ownedCameo, update } = context;

  app.put<{ Params: CameoIdParams; Body: ChangePermissionBody }>(
    '/v1/cameos/:id/permission',
    {
      schema: {
        tags: ['cameos'],
        summary: 'Change who may use the cameo',
        description: 'By its owner. Narrowing it blocks the uses in progress that the new permission no longer covers.',
        params: CameoIdParams,
        body: ChangePermissionBody,
        response: { 200: CameoObject, 400: problemResponse('`permission` is not one of the permissions'), ...ownerOnly },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const state = await ownedCameo(caller, request.params.id, 'change its permission');
      refuseIfDeleted(state);
      const next = await update(state, changePermissionUpdate, [{ by: caller.id, permission: request.body.permission }]);
      request.log.info({ cameoId: state.cameoId, permission: next.permission }, 'cameo permission changed');
      return toCameo(next, caller);
    },
  );

  app.post<{ Params: CameoIdParams; Body: GrantBody }>(
    '/v1/cameos/:id/grants',
    {
      schema: {
        tags: ['cameos'],
        summary: 'Allow a user to put the cameo into their videos',
        description: 'By its owner. Counts under every permission but `only_me`. Granting a user who holds a grant answers that grant.',
        params: CameoIdParams,
        body: GrantBody,
        response: { 201: GrantObject, 422: unprocessableResponse('`user_id` names no user, or the owner'), ...ownerOnly },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const state = await ownedCameo(caller, request.params.id, 'grant access to it');
      refuseIfDeleted(state);
      const userId = request.body.user_id;
      if (userId === state.ownerId) throw invalidParams([contentRefusal('user_id', 'is the owner, who needs no grant')]);
      if (!(await users.findById(userId))) throw invalidParams([contentRefusal('user_id', 'is not a user')]);
      const grant = await update(state, grantAccessUpdate, [{ by: caller.id, user_id: userId }]);
      request.log.info({ cameoId: state.cameoId, grantee: userId, revision: grant.revision }, 'cameo access granted');
      reply.status(201);
      return grant;
    },
  );

  app.delete<{ Params: GrantParams }>(
    '/v1/cameos/:id/grants/:user_id',
    {
      schema: {
        tags: ['cameos'],
        summary: "Revoke a user's grant",
        description: 'By its owner. Their uses in progress are blocked at once; published ones stay (consent held when they were published).',
        params: GrantParams,
        response: {
          200: RevokedGrant,
          ...ownerOnly,
          404: problemResponse('No such cameo (or one the caller may not see: `cameo_not_found`), or the user holds no grant (`grant_not_found`)'),
          422: unprocessableResponse('`user_id` is the owner'),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const state = await ownedCameo(caller, request.params.id, 'revoke access to it');
      refuseIfDeleted(state);
      const userId = request.params.user_id;
      if (userId === state.ownerId) throw invalidParams([contentRefusal('user_id', 'is the owner, whose access cannot be revoked')]);
      const revoked = await update(state, revokeAccessUpdate, [{ by: caller.id, user_id: userId }]);
      request.log.info({ cameoId: state.cameoId, grantee: userId, revision: revoked.revision }, 'cameo access revoked');
      return revoked;
    },
  );

  app.delete<{ Params: CameoIdParams; Querystring: DeleteCameoQuery }>(
    '/v1/cameos/:id',
    {
      schema: {
        tags: ['cameos'],
        summary: 'Delete a cameo',
        description:
          'By its owner. Uses not yet published are blocked; with `take_down=true` the finished videos that use it are taken down too. Its events stay as the record.',
        params: CameoIdParams,
        querystring: DeleteCameoQuery,
        response: { 200: DeletedCameo, ...notFound, 403: ownerOnly[403] },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      // The owner, or an admin (recorded as an admin's deletion in the consent history).
      const asAdmin = hasRole(caller, 'admin');
      const state = asAdmin ? await visibleCameo(caller, id) : await ownedCameo(caller, id, 'delete it');
      if (state.status !== 'deleted') {
        await update(state, deleteCameoUpdate, [
          { by: caller.id, take_down: request.query.take_down ?? false, ...(asAdmin && caller.id !== state.ownerId ? { as_admin: true } : {}) },
        ]);
        request.log.info({ cameoId: id, takeDown: request.query.take_down ?? false }, 'cameo deleted');
      }
      return { id, object: 'cameo.deleted' as const, deleted: true as const };
    },
  );
};
