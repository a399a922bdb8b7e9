/**
 * The HTTP API as a newcomer meets it, against a real node: a body field the
 * route does not describe is refused on every route (and the command is not
 * applied), a missing field says it is required, an unknown query parameter is
 * a coded 400, and engine refusals come in the one error shape, with the
 * catalogue's status and a message, as they do on the socket.
 */
import t from 'tap';
import { errorSpec, httpStatusOf } from './errors.ts';
import { signatureHeader, signWebhookBody } from './payments-webhook.ts';
import {
  http,
  type Json,
  startTestServer,
  TestClient,
  testWebhookSecret,
  token,
} from './testing/test-server.ts';

const admin = token({ role: 'admin', adminName: 'ops' });

const addProduct = (port: number, skuId: number, body: object = {}) =>
  http(port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId, priceMinor: 1000, currency: 'USD', stock: 5, ...body },
  });

const product = async (port: number, skuId: number) =>
  (await http(port, 'GET', `/v1/products/${skuId}`)).body;

function deliver(port: number, text: string) {
  return fetch(`http://127.0.0.1:${port}/v1/payments/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [signatureHeader]: signWebhookBody(testWebhookSecret, text),
    },
    body: text,
  }).then(async (response) => ({ status: response.status, body: (await response.json()) as Json }));
}

t.test(
  'an unknown body field, __proto__ included, is refused on every route and nothing is applied',
  async (t) => {
    const { server, stop } = await startTestServer();
    t.teardown(stop);
    const port = server.port;
    t.equal((await addProduct(port, 1)).status, 200);
    const before = await product(port, 1);
    const routes: [string, Json][] = [
      ['/v1/admin/products', { skuId: 2, priceMinor: 1000, currency: 'USD', stock: 5 }],
      ['/v1/admin/products/1/restock', { quantity: 1 }],
      ['/v1/admin/products/1/price', { priceMinor: 2000 }],
      ['/v1/admin/products/1/sale', { limitPerBuyer: 1, startsAtMs: 0, endsAtMs: 0 }],
      ['/v1/admin/buyers/7/block', { blocked: true }],
    ];
    for (const [path, valid] of routes) {
      const json = JSON.stringify(valid);
      for (const [extra, name] of [
        ['"extra":1', '"extra"'],
        ['"__proto__":{"quantity":5}', '"__proto__"'],
        ['"constructor":1', '"constructor"'],
      ] as const) {
        const body = `${json.slice(0, -1)},${extra}}`;
        const answer = await http(port, 'POST', path, { token: admin, body });
        t.equal(answer.status, 400, `${path} with ${name}`);
        t.same(
          answer.body,
          { error: { code: 'BAD_REQUEST', message: `unknown field ${name}` } },
          `${path} ${name}`,
        );
      }
    }
    t.same(await product(port, 1), before, 'no restock, price or sale was applied');
    t.equal((await http(port, 'GET', '/v1/products/2')).status, 404, 'no product was added');
    const alice = await TestClient.connect(port);
    t.teardown(() => alice.close());
    await alice.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId: 7 }) } });
    const placed = await alice.request({
      requestId: 2,
      placeOrder: { lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1000 }], totalMinor: 1000 },
    });
    t.equal((placed.order as Json).result, 'RESULT_CODE_OK', 'buyer 7 was not blocked');

    const unknown = await deliver(
      port,
      JSON.stringify({ eventId: 'evt_x', orderId: 1, outcome: 'succeeded', amountMinor: 1000, extra: 1 }),
    );
    t.same(unknown, {
      status: 400,
      body: { error: { code: 'BAD_REQUEST', message: 'unknown field "extra"' } },
    });
    const proto = await deliver(
      port,
      '{"__proto__":{},"eventId":"evt_y","orderId":1,"outcome":"succeeded","amountMinor":1000}',
    );
    t.same(proto, {
      status: 400,
      body: { error: { code: 'BAD_REQUEST', message: 'unknown field "__proto__"' } },
    });
    const read = await http(port, 'GET', '/v1/orders/1', { token: admin });
    t.equal(read.body.status, 'ready_for_checkout', 'no webhook delivery reached the order');
  },
);

t.test('a missing field says it is required; a wrong one says what it must be', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  const answer = (path: string, body: unknown) => http(server.port, 'POST', path, { token: admin, body });
  t.same((await answer('/v1/admin/products/1/restock', {})).body, {
    error: { code: 'BAD_REQUEST', message: 'quantity is required' },
  });
  t.same((await answer('/v1/admin/products', { skuId: 1, priceMinor: 5, stock: 1 })).body, {
    error: { code: 'BAD_REQUEST', message: 'currency is required' },
  });
  t.same((await answer('/v1/admin/products/1/restock', { quantity: '1' })).body, {
    error: { code: 'BAD_REQUEST', message: 'quantity must be an integer from 1 to 1073741824, got "1"' },
  });
  t.same((await answer('/v1/admin/buyers/3/block', { blocked: 1 })).body, {
    error: { code: 'BAD_REQUEST', message: 'blocked must be true or false, got 1' },
  });
  t.same((await answer('/v1/admin/products/1/restock', '[1]')).body, {
    error: { code: 'BAD_REQUEST', message: 'body must be a JSON object' },
  });
  t.same((await answer('/v1/admin/products/1/restock', '{"quantity":')).body, {
    error: { code: 'BAD_REQUEST', message: 'body is not UTF-8 JSON' },
  });
});

t.test('an engine refusal is a coded error with its catalogue status and a message', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  t.equal((await addProduct(server.port, 1)).status, 200);
  const again = await addProduct(server.port, 1);
  t.equal(again.status, 409, 'productExists is 409, as docs/errors.md says');
  t.same(again.body, { error: { code: 'productExists', message: errorSpec('productExists').meaning } });
  const outOfRange = await addProduct(server.port, 5000);
  t.equal(outOfRange.status, httpStatusOf('skuOutOfRange'));
  t.equal((outOfRange.body.error as Json).code, 'skuOutOfRange');
  const unknown = await http(server.port, 'POST', '/v1/admin/products/9/restock', {
    token: admin,
    body: { quantity: 1 },
  });
  t.equal(unknown.status, 404);
  t.match(unknown.body, { error: { code: 'unknownSku', message: /\S/ } });
});

t.test('an unknown or repeated query parameter is a coded 400', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  const buyer = token({ role: 'buyer', buyerId: 3 });
  for (const [path, message] of [
    ['/v1/products?q=phone', 'unknown query parameter "q": this route takes after, limit'],
    ['/v1/products?limit=1&limit=2', 'query parameter "limit" is given twice'],
    ['/v1/products/1?verbose=1', 'unknown query parameter "verbose": this route takes none'],
    ['/v1/buyers/me/orders?cursor=5', 'unknown query parameter "cursor": this route takes before, limit'],
    ['/health?x', 'unknown query parameter "x": this route takes none'],
  ] as const) {
    const answer = await http(server.port, 'GET', path, { token: buyer });
    t.equal(answer.status, 400, path);
    t.same(answer.body, { error: { code: 'BAD_REQUEST', message } }, path);
  }
  t.equal(
    (await http(server.port, 'GET', '/v1/products?after=0&limit=10')).status,
    200,
    'described ones pass',
  );
});

t.test('every refusal on the socket carries a human message', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  const port = server.port;
  await addProduct(port, 1);
  await http(port, 'POST', '/v1/admin/products/1/sale', {
    token: admin,
    body: { limitPerBuyer: 1, startsAtMs: 0, endsAtMs: 0 },
  });
  await http(port, 'POST', '/v1/admin/buyers/9/block', { token: admin, body: { blocked: true } });
  const place = async (buyerId: number, quantity: number, unitPriceMinor: number) => {
    const client = await TestClient.connect(port);
    await client.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId }) } });
    const answer = await client.request({
      requestId: 2,
      placeOrder: { lines: [{ skuId: 1, quantity, unitPriceMinor }], totalMinor: quantity * unitPriceMinor },
    });
    client.close();
    return answer.order as Json;
  };
  for (const [what, answer, code] of [
    ['price changed', await place(1, 1, 999), 'priceChanged'],
    ['over the limit', await place(2, 2, 1000), 'limitPerBuyerExceeded'],
    ['blocked', await place(9, 1, 1000), 'buyerBlocked'],
  ] as const) {
    t.equal(answer.message, errorSpec(code).meaning, what);
  }
});
