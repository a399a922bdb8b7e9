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
  const registered = server.routes.filter((r) => !r.startsWith('WS ')).sort();
  t.same(registered, Object.keys(describedRoutes).sort());
  const served = await http(server.port, 'GET', '/openapi.json');
  t.equal(served.status, 200);
  t.equal(served.body.openapi, '3.1.0');
  t.ok((served.body.paths as Record<string, unknown>)['/v1/orders/{orderId}'], 'paths use OpenAPI templates');
});
