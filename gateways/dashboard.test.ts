/**
 * The live dashboard in a real headless Chromium (Debian's /usr/bin/chromium
 * driven by playwright-core; no browser download): a small sale over real
 * WebSockets — buyers one per connection, and a service backend batching —
 * then the page must show what GET /v1/dashboard reports, and that must be
 * what the clients were answered. The page is waited on (waitForFunction),
 * never timed. The place window is widened to hours so the latency figures
 * hold still while the page catches up.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import t from 'tap';
import type { DashboardStats } from './dashboard-stats.ts';
import { http, type Json, startTestServer, TestClient, token } from './testing/test-server.ts';

const chromiumPath = '/usr/bin/chromium';
/** How long the page may take to catch up before the test fails (a bound, not a measurement). */
const pageCatchUpMsMax = 20_000;

const admin = token({ role: 'admin', adminName: 'ops' });

async function addProduct(port: number, skuId: number, stock: number): Promise<void> {
  const r = await http(port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId, priceMinor: 1000, currency: 'USD', stock },
  });
  if (r.status !== 200) throw new Error(`add product: ${r.status} ${r.text}`);
}

async function connect(port: number, subject: Parameters<typeof token>[0]): Promise<TestClient> {
  const client = await TestClient.connect(port);
  const auth = await client.request({ requestId: 1, authenticate: { token: token(subject) } });
  if (!('authenticated' in auth)) throw new Error(`auth failed: ${JSON.stringify(auth)}`);
  return client;
}

const placeOrder = (skuId: number) => ({
  lines: [{ skuId, quantity: 1, unitPriceMinor: 1000 }],
  totalMinor: 1000,
});

/** RESULT_CODE_SOLD_OUT -> soldOut: the client's enum name as the server counts it (engine/codes.ts). */
const resultKey = (name: string): string =>
  name
    .replace(/^RESULT_CODE_/, '')
    .toLowerCase()
    .replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** An answer's code as the server counts it: the order's result, or the error's code. */
function answerCode(answer: Json): string {
  if ('order' in answer) return resultKey((answer.order as { result: string }).result);
  if ('error' in answer) return (answer.error as { code: string }).code;
  throw new Error(`not an order answer: ${JSON.stringify(answer)}`);
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const latencyText = (ms: number | null): string => (ms === null ? '\u2014' : `${ms.toFixed(2)} ms`);

/** What the page must show for these figures, in the shape `readView` reads it (same key order). */
function expectedView(stats: DashboardStats): object {
  const skus: Record<string, object> = {};
  for (const s of stats.skus) {
    skus[s.skuId] = {
      stock: integer.format(s.stockTotal),
      available: integer.format(s.available),
      reserved: integer.format(s.reserved),
      sold: integer.format(s.sold),
    };
  }
  const answers: Record<string, string> = {};
  for (const code of Object.keys(stats.answersByCode).sort())
    answers[code] = integer.format(stats.answersByCode[code]!);
  return {
    skus,
    answers,
    connections: integer.format(stats.connections.open),
    latencyP99: latencyText(stats.window.latencyMsP99),
    placesTotal: `${integer.format(stats.placesAnsweredTotal)} answered in all`,
    ordersTotal: `${integer.format(stats.ordersPlacedTotal)} placed in all`,
  };
}

/**
 * Runs in the page: what a person sees, as text, in expectedView's shape. A string, because
 * playwright sends a function's source as written by the TypeScript loader, helpers and all.
 */
const readView = `(() => {
  const text = (el) => (el === null ? null : el.textContent);
  const skus = {};
  for (const row of document.querySelectorAll('#skus tbody tr')) {
    const field = (name) => text(row.querySelector('[data-field="' + name + '"]'));
    skus[row.dataset.sku] = { stock: field('stock'), available: field('available'), reserved: field('reserved'), sold: field('sold') };
  }
  const answers = {};
  for (const row of document.querySelectorAll('#answers tbody tr'))
    answers[row.dataset.code] = text(row.querySelector('[data-field="count"]'));
  return JSON.stringify({
    skus,
    answers,
    connections: text(document.getElementById('connections')),
    latencyP99: text(document.getElementById('latency-p99')),
    placesTotal: text(document.getElementById('places-total')),
    ordersTotal: text(document.getElementById('orders-total')),
  });
})()`;

t.test('the dashboard page shows what the server reports while a sale runs', async (t) => {
  if (!existsSync(chromiumPath)) {
    t.fail(
      `${chromiumPath} is missing: this test drives Debian's Chromium through playwright-core; install it with \`apt-get install chromium\``,
    );
    return;
  }
  const { server, stop } = await startTestServer({ placeWindowSlotMs: 3_600_000 });
  t.teardown(stop);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  // The page under its own Content-Security-Policy, as a person sees it ...
  const page = await browser.newPage();
  // ... and one that lets the test evaluate the figures' text (polling predicates need eval, which the CSP forbids).
  const inspected = await (await browser.newContext({ bypassCSP: true })).newPage();
  const pageErrors: string[] = [];
  const requested: string[] = [];
  for (const p of [page, inspected]) {
    p.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text()); // a CSP violation lands here
    });
    p.on('pageerror', (error) => pageErrors.push(error.message));
    p.on('request', (request) => requested.push(request.url()));
  }

  const origin = `http://127.0.0.1:${server.port}`;
  const dashboard = async (): Promise<DashboardStats> =>
    (await http(server.port, 'GET', '/v1/dashboard')).body as unknown as DashboardStats;
  /** Waits until the page shows exactly what the server reports now. */
  const pageAgrees = async (what: string): Promise<DashboardStats> => {
    const stats = await dashboard();
    const expected = JSON.stringify(expectedView(stats));
    try {
      await inspected.waitForFunction(`${readView} === ${JSON.stringify(expected)}`, undefined, {
        timeout: pageCatchUpMsMax,
        polling: 50,
      });
      t.pass(`the page shows the server's figures ${what}`);
    } catch (error) {
      const shown = await inspected.evaluate(readView);
      t.fail(`${what}: the page shows ${shown}, the server reports ${expected} (${String(error)})`);
    }
    return stats;
  };

  await addProduct(server.port, 1, 5);
  await addProduct(server.port, 2, 3);
  const response = await page.goto(`${origin}/dashboard`);
  t.equal(response?.status(), 200);
  t.match(response?.headers()['content-type'], /^text\/html/);
  t.match(response?.headers()['content-security-policy'], /default-src 'none'/);
  await inspected.goto(`${origin}/dashboard`);
  const before = await pageAgrees('before the sale');
  t.same(
    before.skus.map((s) => [s.skuId, s.available, s.reserved, s.sold]),
    [
      [1, 5, 0, 0],
      [2, 3, 0, 0],
    ],
  );

  // The sale: 8 buyers for SKU 1's 5 units, one connection each; a service backend places 4 buyers'
  // orders for SKU 2's 3 units in one batch; two SKU 1 winners pay.
  const buyers = await Promise.all(
    Array.from({ length: 8 }, (_, i) => connect(server.port, { role: 'buyer', buyerId: 1 + i })),
  );
  const backend = await connect(server.port, { role: 'service', serviceName: 'checkout' });
  const buyerAnswers = await Promise.all(
    buyers.map((b) => b.request({ requestId: 2, placeOrder: placeOrder(1) })),
  );
  const batch = await backend.request({
    requestId: 2,
    batch: {
      messages: Array.from({ length: 4 }, (_, i) => ({
        requestId: 10 + i,
        placeOrder: { buyerId: 101 + i, ...placeOrder(2) },
      })),
    },
  });
  const batchAnswers = (batch.batch as { answers: Json[] }).answers;
  const winners = buyers.filter((_, i) => answerCode(buyerAnswers[i]!) === 'ok');
  t.equal(winners.length, 5, 'five buyers of SKU 1 got a unit');
  const payers = winners.slice(0, 2);
  const payAnswers = await Promise.all(
    payers.map((b) =>
      b.request({
        requestId: 3,
        pay: { orderId: (buyerAnswers[buyers.indexOf(b)]!.order as { orderId: number }).orderId },
      }),
    ),
  );
  await Promise.all(
    payers.map((b) => b.push((m) => (m.update as { status: string }).status === 'checkout_success')),
  );

  const told: Record<string, number> = {};
  for (const answer of [...buyerAnswers, ...batchAnswers, ...payAnswers])
    told[answerCode(answer)] = (told[answerCode(answer)] ?? 0) + 1;
  t.same(told, { ok: 5 + 3 + 2, soldOut: 3 + 1 }, 'the clients were answered as the stock allows');

  const during = await pageAgrees('after the sale, with everyone connected');
  t.same(
    during.skus.map((s) => [s.skuId, s.stockTotal, s.available, s.reserved, s.sold]),
    [
      [1, 5, 0, 3, 2],
      [2, 3, 0, 3, 0],
    ],
    'the server reports stock as the sale left it',
  );
  t.same(during.answersByCode, told, 'and the answers by code the clients received');
  t.equal(during.connections.open, 9, '8 buyers and a backend connected');
  t.equal(during.placesAnsweredTotal, 12, 'every place counted, batched ones too');
  t.equal(during.ordersPlacedTotal, 8);
  t.equal(during.window.placeCount, 12);
  t.ok(during.window.latencyMsP99 !== null && during.window.latencyMsP99 > 0, 'a p99 latency is reported');
  t.ok(during.window.ordersPerSecond > 0, 'and an order rate');

  // A page opened now draws the sale at its first readings, from the server's history, not from an empty
  // chart that fills as it polls (the sale's second is drawn once it is complete, at most a second on).
  const fresh = await browser.newPage();
  await fresh.goto(`${origin}/dashboard`);
  await fresh
    .locator('#sparkline-totals')
    .filter({ hasText: /^last 2 min: 12 answered, 8 placed$/ })
    .waitFor({ timeout: pageCatchUpMsMax });
  const history = (await dashboard()).history;
  t.equal(history.placesPerSecond.length, 120, 'two minutes of seconds');
  t.equal(
    history.ordersPerSecond.reduce((sum, v) => sum + (v * history.slotMs) / 1000, 0),
    8,
    "the server's history holds the sale's orders",
  );
  t.pass('a page opened after the sale draws its history at once');
  await fresh.close();

  // Connections closing show up too.
  for (const b of buyers.slice(5)) b.close();
  const closedBy = Date.now() + pageCatchUpMsMax;
  while ((await dashboard()).connections.open !== 6 && Date.now() < closedBy)
    await new Promise((resolve) => setTimeout(resolve, 20));
  const after = await pageAgrees('after three buyers left');
  t.equal(after.connections.open, 6);
  // Under its CSP the page runs too: it is live and shows the same (waited on through selectors, no eval).
  const shown = (selector: string, text: string) =>
    page
      .locator(selector)
      .filter({ hasText: new RegExp(`^${text}$`) })
      .waitFor({ timeout: pageCatchUpMsMax });
  await shown('#status', 'live');
  await shown('#connections', '6');
  await shown('#skus tr[data-sku="1"] [data-field="reserved"]', '3');
  await shown('#answers tr[data-code="soldOut"] [data-field="count"]', '4');
  t.pass('the page under its own CSP shows the same figures');

  t.same(pageErrors, [], 'no script error or CSP violation in the page');
  const foreign = requested.filter((url) => !url.startsWith(`${origin}/`));
  t.same(foreign, [], 'the page fetched nothing but its own server');
  t.ok(
    requested.some((url) => url === `${origin}/v1/dashboard`),
    'it polls /v1/dashboard',
  );
  for (const b of [...buyers.slice(0, 5), backend]) b.close();
});

t.test('the dashboard shows product names where a module of the node knows them', async (t) => {
  if (!existsSync(chromiumPath)) {
    t.fail(`${chromiumPath} is missing: install it with \`apt-get install chromium\``);
    return;
  }
  // The demo catalog knows its three products' names; an own product beside them has none.
  const { server, stop } = await startTestServer({ demoCatalog: true });
  t.teardown(stop);
  await addProduct(server.port, 10, 5);
  const stats = (await http(server.port, 'GET', '/v1/dashboard')).body as unknown as DashboardStats;
  t.same(
    stats.skus.map((s) => [s.skuId, s.name]),
    [
      [1, 'flash-sale phone'],
      [2, 'phone case'],
      [3, 'limited sneakers'],
      [10, null],
    ],
    'GET /v1/dashboard: each SKU with its name, null where none is known',
  );
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/dashboard`);
  const name = (skuId: number) => page.locator(`#skus tr[data-sku="${skuId}"] [data-field="name"]`);
  await name(1)
    .filter({ hasText: /^flash-sale phone$/ })
    .waitFor({ timeout: pageCatchUpMsMax });
  t.pass('the page shows the name next to the SKU id');
  t.equal(await name(10).textContent(), '', 'and nothing for a SKU without one');
});
