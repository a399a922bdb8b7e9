/**
 * The OpenAPI document and the server's routes are the same set, whatever
 * the method they are registered with, the server serves the document, and
 * it does what the document says of bodies and queries.
 */
import t from 'tap';
import { describedRoutes } from './openapi.ts';
import { signatureHeader, signWebhookBody, webhookPath } from './payments-webhook.ts';
import { http, startTestServer, testWebhookSecret, token } from './testing/test-server.ts';

t.test('every HTTP route is described, and every description is a route', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  // Routes of every method are recorded; 'ANY /*' is the coded 404 for every path that is not a route.
  t.ok(server.routes.includes('ANY /*'), 'routes registered with any method are recorded');
  const registered = server.routes.filter((r) => !r.startsWith('WS ') && r !== 'ANY /*').sort();
  t.same(registered, Object.keys(describedRoutes).sort());
  const served = await http(server.port, 'GET', '/openapi.json');
  t.equal(served.status, 200);
  t.equal(served.body.openapi, '3.1.0');
  t.ok((served.body.paths as Record<string, unknown>)['/v1/orders/{orderId}'], 'paths use OpenAPI templates');
});

t.test('a path that is no route gets a coded 404, whatever the method', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  for (const [method, path] of [
    ['GET', '/favicon.ico'],
    ['POST', '/v1/nothing/here'],
    ['DELETE', '/v1/products/1'],
  ] as const) {
    const answer = await http(server.port, method, path);
    t.equal(answer.status, 404, `${method} ${path}`);
    t.match(answer.body, { error: { code: 'NOT_FOUND', message: `no route ${method} ${path}` } });
  }
});

t.test(
  'every described body refuses a field it does not describe; every route one query parameter',
  async (t) => {
    const { server, stop } = await startTestServer();
    t.teardown(stop);
    const admin = token({ role: 'admin', adminName: 'ops' });
    const concrete = (path: string) => path.replace(/:[A-Za-z]+/g, '1');
    for (const [key, operation] of Object.entries(describedRoutes)) {
      const [method, path] = key.split(' ') as [string, string];
      // The webhook's URL is the provider's to configure, and some append their own parameters: it takes any.
      if (path !== webhookPath) {
        const unknownQuery = await http(server.port, method, `${concrete(path)}?undescribed=1`, {
          token: admin,
        });
        t.equal(unknownQuery.status, 400, `${key}?undescribed=1`);
        t.match(unknownQuery.body, {
          error: { code: 'BAD_REQUEST', message: /unknown query parameter "undescribed"/ },
        });
      }
      const schema = (operation as { requestBody?: { content: Record<string, { schema: object }> } })
        .requestBody?.content['application/json']?.schema;
      if (schema === undefined) continue;
      t.match(schema, { additionalProperties: false }, `${key} says it refuses other fields`);
      const body = '{"undescribed":1}';
      const answer = await fetch(`http://127.0.0.1:${server.port}${concrete(path)}`, {
        method,
        headers: {
          authorization: `Bearer ${admin}`,
          ...(path === webhookPath ? { [signatureHeader]: signWebhookBody(testWebhookSecret, body) } : {}),
        },
        body,
      });
      t.equal(answer.status, 400, key);
      t.same(
        await answer.json(),
        { error: { code: 'BAD_REQUEST', message: 'unknown field "undescribed"' } },
        key,
      );
    }
  },
);
