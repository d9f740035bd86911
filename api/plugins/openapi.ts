// The OpenAPI document, generated from the routes' TypeBox schemas: GET /openapi.json, and Swagger UI at /docs.
// Registered before any route, since @fastify/swagger collects routes as they are added.
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

export const openapiPlugin = fp<{ version: string }>(
  async (app, options) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'reelforge',
          version: options.version,
          description: 'Short-video generation: jobs, remixes, cameos with consent, feed. Errors are application/problem+json.',
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      },
      // Shared schemas (app.addSchema) appear under their $id in components.schemas, not as def-N.
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'reelforge-openapi' },
);
