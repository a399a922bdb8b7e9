/**
 * The node's one logger: every line of a real node is a JSON object naming
 * its module, commands add no lines (bounded volume on the hot path), the
 * pretty format is readable text with the module, and kafkajs's own logger
 * is routed into it with its level and fields (a real kafkajs client
 * failing to reach a port where no broker listens).
 */
import { Writable } from 'node:stream';
import kafkajs from 'kafkajs';
import t from 'tap';
import { http, startTestServer, token } from '../gateways/testing/test-server.ts';
import { boundedWarn, createNodeLogger, kafkaLogCreator } from './log.ts';

function collector() {
  const text: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text.push(chunk.toString());
      done();
    },
  });
  const lines = () =>
    text
      .join('')
      .split('\n')
      .filter((line) => line !== '');
  return { stream, lines };
}

t.test("a node's lines are JSON, each with its module; commands add none", async (t) => {
  const { stream, lines } = collector();
  const logger = createNodeLogger({ level: 'info', format: 'json', destination: stream });
  const { server, stop } = await startTestServer({ logger });
  const records = lines().map((line) => JSON.parse(line) as Record<string, unknown>);
  t.ok(records.length > 3, 'the start is logged');
  t.ok(
    records.every(
      (r) => typeof r.module === 'string' && typeof r.level === 'number' && typeof r.msg === 'string',
    ),
    'every line: module, level, msg',
  );
  const modules = new Set(records.map((r) => r.module));
  for (const name of ['node', 'journal', 'engine', 'read-model'])
    t.ok(modules.has(name), `a line from ${name}`);
  t.ok(
    records.some((r) => r.module === 'node' && /^listening on http:/.test(String(r.msg))),
    'where it listens',
  );

  const before = lines().length;
  const admin = token({ role: 'admin', adminName: 'ops' });
  await http(server.port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId: 1, priceMinor: 100, currency: 'USD', stock: 1000 },
  });
  for (let i = 0; i < 100; i++) {
    await http(server.port, 'POST', '/v1/admin/products/1/restock', { token: admin, body: { quantity: 1 } });
  }
  t.equal(lines().length, before, '101 commands, no line');
  await stop();
  t.ok(lines().length > before, 'the stop is logged');
});

t.test('the pretty format is readable lines naming the module', async (t) => {
  const { stream, lines } = collector();
  const logger = createNodeLogger({ level: 'info', format: 'pretty', destination: stream });
  logger.child({ module: 'checkout' }).info('hello');
  const [line] = lines();
  t.match(line, /INFO.*\[checkout\] hello/);
  t.notMatch(line, /^\{/, 'not JSON');
});

t.test("kafkajs's own logger goes into the node's, at its level, with its fields", async (t) => {
  const { stream, lines } = collector();
  const logger = createNodeLogger({ level: 'debug', format: 'json', destination: stream });
  const kafka = new kafkajs.Kafka({
    clientId: 'stampede-log-test',
    brokers: ['127.0.0.1:1'], // nothing listens on port 1: the connection is refused at once
    connectionTimeout: 1000,
    retry: { retries: 0 },
    logLevel: kafkajs.logLevel.INFO,
    logCreator: kafkaLogCreator(logger.child({ module: 'journal' })),
  });
  const producer = kafka.producer();
  await t.rejects(producer.connect());
  const records = lines().map((line) => JSON.parse(line) as Record<string, unknown>);
  const errors = records.filter((r) => r.library === 'kafkajs' && r.level === 50);
  t.ok(errors.length > 0, 'the connection error, at level error');
  t.ok(
    errors.every(
      (r) => r.module === 'journal' && typeof r.namespace === 'string' && typeof r.msg === 'string',
    ),
    'with the module, the kafkajs namespace and its message',
  );
  t.ok(
    records.every((r) => !('timestamp' in r)),
    "kafkajs's own timestamp is dropped (pino's time is the one)",
  );
});

t.test(
  'a warning repeated on a busy path is written once per interval, with the count held back',
  async (t) => {
    const { stream, lines } = collector();
    const logger = createNodeLogger({ level: 'info', format: 'json', destination: stream });
    const warn = boundedWarn(logger, 20);
    for (let i = 0; i < 1000; i++) warn('refused');
    t.equal(lines().length, 1, '1000 warnings, one line');
    await new Promise((resolve) => setTimeout(resolve, 40));
    warn('refused');
    const last = JSON.parse(lines().at(-1)!) as { heldBack: number; msg: string };
    t.equal(last.heldBack, 999);
    t.equal(last.msg, 'refused (and 999 more like it)');
  },
);
