/**
 * Seeded fuzzing of the HTTP edge, over raw TCP so nothing a client library
 * would normalise is out of reach: every route and method (and paths that are
 * no route), path parameters out of range, query strings bad and unknown,
 * bodies of random bytes, mutated valid bodies, JSON of the wrong types or
 * with unknown keys (`__proto__` among them), oversize bodies, and good,
 * bad and missing tokens and webhook signatures. Every request must get its
 * documented answer: a 2xx only from the route it was built for, listed in
 * /openapi.json, and anything else `{ "error": { "code", "message" } }` with
 * the catalogue's status for the code and a message; the node stays up.
 *
 * HTTP_FUZZ_REQUESTS (default 1500) sets the length; SEED replays a run.
 */
import { connect } from 'node:net';
import t from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { errorSpec, isErrorCode } from './errors.ts';
import { addProductBody, blockBody, priceBody, restockBody, saleBody, webhookBody } from './http-bodies.ts';
import { describedRoutes } from './openapi.ts';
import { signatureHeader, signWebhookBody, webhookPath } from './payments-webhook.ts';
import { startTestServer, TestClient, testWebhookSecret, token } from './testing/test-server.ts';

const requestsTotal = Number(process.env.HTTP_FUZZ_REQUESTS ?? 1500);
if (!Number.isSafeInteger(requestsTotal) || requestsTotal < 100) {
  throw new RangeError(
    `HTTP_FUZZ_REQUESTS must be an integer of at least 100, got '${process.env.HTTP_FUZZ_REQUESTS}'`,
  );
}
const concurrency = 8;
/** The test server's httpBodyBytesMax (testing/test-server.ts). */
const bodyBytesMax = 16_384;
/** No answer within this is a failure (the machine is shared and loaded: generous). */
const answerWaitMsMax = 30_000;

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** One request on its own connection, bytes as given; resolves with the parsed answer or rejects naming why. */
function rawRequest(port: number, request: Buffer, head: boolean): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new Error(`no answer within ${answerWaitMsMax} ms`)),
      answerWaitMsMax,
    );
    let settled = false;
    const finish = (outcome: RawAnswer | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const tryParse = (closed: boolean): void => {
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) {
        if (closed)
          finish(new Error(`connection closed after ${received.length} bytes without a full answer`));
        return;
      }
      const lines = received.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1]);
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const length = Number(headers.get('content-length') ?? 0);
      const body = received.subarray(end + 4);
      if (head || body.length >= length) finish({ status, headers, body: body.subarray(0, length) });
      else if (closed) finish(new Error(`connection closed with ${body.length} of ${length} body bytes`));
    };
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('error', (error) => finish(error));
    socket.write(request);
  });
}

interface FuzzRequest {
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer;
  /** The described route ("POST /v1/admin/products") this request was built for with its own method, or null. */
  route: string | null;
  /** What was done to it, for the failure message. */
  what: string;
  /** Certainly refused: an undescribed query parameter or body field, a missing field, a body that cannot be one. */
  mustFail: boolean;
}

function encode(request: FuzzRequest): Buffer {
  const lines = [`${request.method} ${request.target} HTTP/1.1`, 'host: 127.0.0.1'];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  lines.push(`content-length: ${request.body.length}`, '', '');
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), request.body]);
}

const validBodies: Record<string, Record<string, unknown>> = {
  'POST /v1/admin/products': { skuId: 10, priceMinor: 1500, currency: 'USD', stock: 50 },
  'POST /v1/admin/products/:skuId/restock': { quantity: 3 },
  'POST /v1/admin/products/:skuId/price': { priceMinor: 1000 },
  'POST /v1/admin/products/:skuId/sale': { limitPerBuyer: 0, startsAtMs: 0, endsAtMs: 0 },
  'POST /v1/admin/buyers/:buyerId/block': { blocked: false },
  'POST /v1/payments/webhook': { eventId: 'evt_1', orderId: 1, outcome: 'declined', amountMinor: 1000 },
};
// The fuzz must know every body the server takes, or it would never send a valid one.
const bodySpecs = [addProductBody, restockBody, priceBody, saleBody, blockBody, webhookBody];

function fuzzer(random: SeededRandom) {
  const admin = token({ role: 'admin', adminName: 'fuzz' });
  const buyer = token({ role: 'buyer', buyerId: 3 });
  const service = token({ role: 'service', serviceName: 'fuzz' });
  const routes = Object.keys(describedRoutes);
  /** JSON texts of the wrong type or out of range, numbers JSON can write but a double cannot hold among them. */
  const junkJson = [
    'null',
    'true',
    '0',
    '-1',
    '1.5',
    '1e400',
    '-0',
    '9007199254740993',
    '""',
    '"1"',
    '"USD"',
    `"${'x'.repeat(300)}"`,
    '"\\ud800"',
    '[]',
    '[1]',
    '{}',
    '{"a":1}',
  ];
  const bytes = (length: number): Buffer => Buffer.from(Array.from({ length }, () => random.int(0, 255)));

  const pathParam = (): string =>
    random.pick([
      '1',
      '2',
      '3',
      String(random.int(0, 200)),
      '0',
      '-1',
      '99999999999999999999',
      '2147483648',
      'abc',
      '%00',
      '%ZZ',
      '1.5',
      '1e3',
      '',
      '%F0%9F%9A%80',
      encodeURIComponent('"'),
    ]);

  const query = (route: string): { text: string; unknown: boolean } => {
    const described = (
      (describedRoutes[route] as { parameters?: { name: string; in: string }[] }).parameters ?? []
    )
      .filter((p) => p.in === 'query')
      .map((p) => p.name);
    const parts: string[] = [];
    let unknown = false;
    for (let i = random.int(0, 3); i > 0; i--) {
      const name =
        random.chance(0.6) && described.length > 0
          ? random.pick(described)
          : random.pick(['q', 'x', '__proto__', '', '%', 'limit%00']);
      const value = random.pick([
        '',
        '1',
        '10',
        '0',
        '-5',
        '501',
        '999999999999999999',
        'abc',
        '%',
        '%E2%82',
        '+',
        'a=b',
      ]);
      // The webhook takes any query (its URL is the provider's to configure).
      unknown ||= !described.includes(name) && name !== '' && route !== `POST ${webhookPath}`;
      parts.push(random.chance(0.9) ? `${name}=${value}` : name);
    }
    if (random.chance(0.05)) parts.push(random.pick(['&', '&&', '=', '==', '%%', '?']));
    return { text: parts.length === 0 ? '' : `?${parts.join('&')}`, unknown };
  };

  const jsonBody = (route: string): { body: Buffer; what: string; refused?: true } => {
    const valid = validBodies[route];
    if (valid === undefined) {
      // A route that takes no body answers as if none were sent, whatever its size.
      return random.pick([
        () => ({ body: Buffer.alloc(0), what: 'no body' }),
        () => ({ body: bytes(random.int(1, 64)), what: 'random bytes' }),
        () => ({
          body: Buffer.alloc(bodyBytesMax * random.int(1, 4), 0x7b),
          what: 'a large body where none is read',
        }),
      ])();
    }
    const value: Record<string, unknown> = { ...valid };
    const keys = Object.keys(valid);
    switch (random.int(0, 8)) {
      case 0:
        return { body: Buffer.from(JSON.stringify(value)), what: 'the valid body' };
      case 1: {
        value[random.pick(keys)] = '\u0000junk';
        const text = JSON.stringify(value).replace('"\\u0000junk"', random.pick(junkJson));
        return { body: Buffer.from(text), what: 'a field of the wrong type or range' };
      }
      case 2:
        delete value[random.pick(keys)];
        return { body: Buffer.from(JSON.stringify(value)), what: 'a field missing', refused: true };
      case 3: {
        const key = random.pick(['extra', '__proto__', 'constructor', 'toString', 'skuid', 'Quantity', '']);
        const text = JSON.stringify(value);
        return {
          body: Buffer.from(`${text.slice(0, -1)},${JSON.stringify(key)}:1}`),
          what: `unknown key ${key}`,
          refused: true,
        };
      }
      case 4: {
        const text = Buffer.from(JSON.stringify(value));
        for (let i = random.int(1, 4); i > 0; i--) text[random.int(0, text.length - 1)] = random.int(0, 255);
        return { body: text, what: 'a mutated valid body' };
      }
      case 5:
        return { body: bytes(random.int(1, 200)), what: 'random bytes' };
      case 6:
        return {
          body: Buffer.from(JSON.stringify(random.pick([[], 1, 'x', null, [value]]))),
          what: 'JSON that is not an object',
          refused: true,
        };
      case 7:
        return {
          body: Buffer.alloc(bodyBytesMax + random.int(1, 3 * bodyBytesMax), 0x20),
          what: 'an oversize body',
          refused: true,
        };
      default:
        return { body: Buffer.alloc(0), what: 'an empty body', refused: true };
    }
  };

  return (): FuzzRequest => {
    const unknownPath = random.chance(0.05);
    const route = unknownPath ? null : random.pick(routes);
    const [routeMethod, routePath] =
      route === null
        ? ['GET', random.pick(['/', '/v1', '/v2/products', '/%', '//v1/products', '/v1/products/1/2'])]
        : (route.split(' ') as [string, string]);
    const method = random.chance(0.85)
      ? routeMethod
      : random.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
    const path = routePath.replace(/:[A-Za-z]+/g, () => pathParam());
    const { text: queryText, unknown: unknownQuery } =
      route === null ? { text: '', unknown: false } : query(route);
    const target = route === null ? routePath : `${path}${queryText}`;
    const { body, what, refused } = jsonBody(route ?? '');
    const headers: [string, string][] = [];
    const credential = random.pick([
      admin,
      admin,
      admin,
      buyer,
      service,
      'garbage',
      `${admin.slice(0, -2)}xx`,
      null,
    ]);
    if (credential !== null)
      headers.push(['authorization', random.chance(0.95) ? `Bearer ${credential}` : credential]);
    if (routePath === webhookPath) {
      const signature = random.chance(0.8)
        ? signWebhookBody(testWebhookSecret, body)
        : random.pick(['', 'sha256=00', 'x']);
      headers.push([signatureHeader, signature]);
    }
    if (random.chance(0.3))
      headers.push(['content-type', random.pick(['application/json', 'text/plain', 'x'])]);
    return {
      method,
      target,
      headers,
      body,
      route: route !== null && method === routeMethod ? route : null,
      what: `${what}${unknownQuery ? ', an undescribed query parameter' : ''}${route !== null && method !== routeMethod ? `, method ${method}` : ''}`,
      mustFail: unknownQuery || refused === true,
    };
  };
}

/** What is wrong with an answer, or null when it is the documented one. */
function problemOf(request: FuzzRequest, answer: RawAnswer): string | null {
  if (request.method === 'HEAD') return Number.isInteger(answer.status) ? null : 'no status line';
  const contentType = answer.headers.get('content-type') ?? '';
  if (answer.status >= 200 && answer.status < 300) {
    if (request.route === null) return `a ${answer.status} for a request no route describes`;
    if (request.mustFail) return `a ${answer.status} for a request that must be refused`;
    const responses = (describedRoutes[request.route] as { responses: Record<string, unknown> }).responses;
    if (!(String(answer.status) in responses))
      return `${answer.status} is not among ${request.route}'s responses`;
    return null;
  }
  if (request.route === 'GET /ready' && answer.status === 503) return 'the node says it is not ready';
  if (!contentType.startsWith('application/json')) return `an error answer of content-type ${contentType}`;
  let body: unknown;
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return 'an error answer that is not JSON';
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  if (typeof error?.code !== 'string' || !isErrorCode(error.code))
    return `no catalogued error code in ${answer.body}`;
  if (errorSpec(error.code).httpStatus !== answer.status) {
    return `${error.code} answered ${answer.status}, the catalogue says ${errorSpec(error.code).httpStatus}`;
  }
  if (typeof error.message !== 'string' || error.message.length === 0)
    return `${error.code} without a message`;
  return null;
}

t.test('every fuzzed HTTP request gets its documented answer and the node stays up (seeded)', async (t) => {
  const seed = seedFromEnv();
  t.comment(
    `SEED=${seed} HTTP_FUZZ_REQUESTS=${requestsTotal} (replay: SEED=${seed} npx tap gateways/http-fuzz.test.ts)`,
  );
  t.equal(bodySpecs.length, Object.keys(validBodies).length, 'a valid body for every body the server takes');
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  const port = server.port;
  const next = fuzzer(new SeededRandom(seed));
  // A catalog to act on: SKUs 1..3, as a fuzzed path parameter often names them.
  const admin = token({ role: 'admin', adminName: 'fuzz' });
  for (const skuId of [1, 2, 3]) {
    const body = Buffer.from(JSON.stringify({ skuId, priceMinor: 1000, currency: 'USD', stock: 100 }));
    const added = await rawRequest(
      port,
      encode({
        method: 'POST',
        target: '/v1/admin/products',
        headers: [['authorization', `Bearer ${admin}`]],
        body,
        route: null,
        what: '',
        mustFail: false,
      }),
      false,
    );
    t.equal(added.status, 200, `SKU ${skuId} added`);
  }
  // Requests are generated in order from the seed; only their interleaving on the wire varies.
  const requests = Array.from({ length: requestsTotal }, next);
  const problems: string[] = [];
  const byStatus = new Map<number, number>();
  let index = 0;
  const worker = async (): Promise<void> => {
    while (index < requests.length) {
      const i = index++;
      const request = requests[i]!;
      const shown = `request ${i} (${request.what}): ${request.method} ${request.target.slice(0, 120)}`;
      try {
        const answer = await rawRequest(port, encode(request), request.method === 'HEAD');
        byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
        const problem = problemOf(request, answer);
        if (problem !== null) problems.push(`${shown}: ${problem}`);
      } catch (error) {
        problems.push(`${shown}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  for (const problem of problems.slice(0, 10)) t.fail(`SEED=${seed} ${problem}`);
  t.equal(problems.length, 0, `SEED=${seed}: every answer as documented`);
  t.comment(
    `answers by status: ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}`,
  );
  t.ok(
    (byStatus.get(200) ?? 0) > 0 && (byStatus.get(400) ?? 0) > 0,
    'both accepted and refused requests were sent',
  );

  const health = await rawRequest(
    port,
    encode({
      method: 'GET',
      target: '/ready',
      headers: [],
      body: Buffer.alloc(0),
      route: null,
      what: '',
      mustFail: false,
    }),
    false,
  );
  t.equal(health.status, 200, 'the node is still ready');
  const client = await TestClient.connect(port);
  const pong = await client.request({ requestId: 1, ping: { clientTimeMs: 1 } });
  t.ok(pong.pong, 'and its checkout socket still answers');
  client.close();
});
