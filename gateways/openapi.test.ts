/**
 * The OpenAPI document and the server's routes are the same set, and the
 * server serves the document.
 */
import t from 'tap';
import { describedRoutes } from './openapi.ts';
import { http, startTestServer } from './testing/test-server.ts';

t.test('every HTTP route is described, and every description is a route', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  // 'ANY /*' is the coded 404 for every path that is not a route.
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
