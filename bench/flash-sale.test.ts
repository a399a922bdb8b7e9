/**
 * `stampede bench flash-sale` as a capacity planner runs it, small: a real
 * process that starts its own node, sells 100 units to 2,000 buyers over
 * WebSockets, then does the same sale on the real Redis and MariaDB
 * (--compare). It must exit 0 (every audit passed), print one JSON line per
 * system with the figures, and write an HTML report that needs no network.
 * No figure is asserted against a speed: benchmarks judge speed, tests
 * judge behaviour.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../lib/run-cli.ts';
import { seedFromEnv } from '../lib/seeded-random.ts';
import { parseFlashSaleOptions } from './flash-sale.ts';
import { startServerChild } from './flash-sale-server.ts';
import { stampedeRunLimits } from './flash-sale-stampede.ts';

const run = (args: string[], env: Record<string, string> = {}) =>
  runCli(['bench', 'flash-sale', ...args], { ...process.env, ...env }, 900_000);

t.test(
  'a small sale against Stampede and the baselines: audited, JSON lines, a self-contained report',
  async (t) => {
    const seed = seedFromEnv();
    t.comment(`seed ${seed} (replay with SEED=${seed})`);
    const dir = mkdtempSync(join(tmpdir(), 'stampede-flash-sale-test-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const report = join(dir, 'tmp.html');
    const result = await run([
      '--buyers',
      '2000',
      '--stock',
      '100',
      // A small warm-up: its SKU and orders must stay out of every audit.
      '--warmup',
      '500',
      '--compare',
      '--json',
      '--report',
      report,
      '--seed',
      String(seed % 2 ** 31),
    ]);
    t.equal(result.code, 0, `exit 0 (every audit passed); stderr:\n${result.stderr}`);

    const lines = result.stdout.trim().split('\n');
    const rows = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    t.same(
      rows.map((r) => r.system),
      ['stampede', 'redis-lua', 'mysql-cond', 'mysql-tx'],
      'one JSON line per system',
    );
    for (const row of rows) {
      const latency = row.placeToAnswerMs as Record<string, number>;
      t.match(
        row,
        {
          buyers: 2000,
          stock: 100,
          concurrency: 256,
          loadModel: 'closed',
          attempts: 2000,
          auditOk: true,
          auditProblems: [],
          attemptsPerSec: Number,
          soldOutPerSec: Number,
          clientCpuSeconds: Number,
        },
        `${row.system}: the figures`,
      );
      t.ok(
        latency.p50! <= latency.p90! &&
          latency.p90! <= latency.p99! &&
          latency.p99! <= latency.p999! &&
          latency.p999! <= latency.max!,
        `${row.system}: p50 <= p90 <= p99 <= p99.9 <= max`,
      );
      t.equal(latency.count, 2000, `${row.system}: a latency for every buyer`);
      t.equal(
        (row.stockEnd as { sold: number }).sold + (row.stockEnd as { reserved: number }).reserved <= 100,
        true,
        'no oversell',
      );
    }
    const stampede = rows[0]!;
    t.type(stampede.serverCpuSeconds, 'number', 'the server process was measured');
    t.type(stampede.serverPeakRssMiB, 'number');
    const journal = stampede.journal as { commits: number; recordsPerCommit: number; commitMsMean: number };
    t.ok(journal.commits > 0 && journal.recordsPerCommit >= 1, 'the journal committed the sale in groups');
    t.ok(journal.commitMsMean > 0, 'and each commit took time (a real fdatasync)');
    for (const row of rows.slice(1)) t.equal(row.journal, null, `${row.system}: no journal figures`);
    t.ok(stampede.placeToPaidMs !== null, 'place→paid latencies (80% of the buyers who reserve pay)');
    t.same(stampede.vsStampede, null);
    t.match(rows[1]!.vsStampede, { attemptsPerSec: Number, soldOutPerSec: Number });

    const html = readFileSync(report, 'utf8');
    t.match(html, /^<!doctype html>/);
    t.match(html, /<svg[^>]*aria-label="latency CDF"/, 'a latency CDF');
    t.match(html, /sold out at/, 'the sell-out moment is marked');
    for (const system of ['stampede', 'redis-lua', 'mysql-cond', 'mysql-tx'])
      t.match(html, new RegExp(`aria-label="throughput of ${system}"`), `throughput of ${system}`);
    t.notMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, 'nothing loaded from the network');
    t.notMatch(html, /<(script|link|img|iframe)\b[^>]*\b(src|href)=/i, 'no external resources at all');
  },
);

t.test('--target drives a running node whose reservations time out during the run', async (t) => {
  const seed = seedFromEnv();
  t.comment(`seed ${seed} (replay with SEED=${seed})`);
  const secret = 'flash-sale-target-test-secret-0123456789';
  const node = await startServerChild({
    STAMPEDE_TOKEN_SECRET: secret,
    // Shorter than the run (2,500 buyers at 1,000/s): abandoned reservations come back while it goes on.
    STAMPEDE_ORDER_TTL_MS: '1000',
    STAMPEDE_IP_REQUESTS_PER_SECOND: '1000000',
    STAMPEDE_IP_BURST: '1000000',
  });
  t.teardown(() => node.dispose());
  const result = await run(
    [
      ...['--target', `http://127.0.0.1:${node.port}`, '--create-skus', '--open-loop', '--rate', '1000'],
      ...['--buyers', '2500', '--stock', '300', '--warmup', '0', '--abandon', '0.5'],
      ...['--json', '--seed', String(seed % 2 ** 31)],
    ],
    { STAMPEDE_TOKEN_SECRET: secret },
  );
  t.equal(result.code, 0, `exit 0 (the audit passed); stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  const row = JSON.parse(result.stdout.trim()) as { auditOk: boolean; notes: string; attempts: number };
  t.match(row, { auditOk: true, attempts: 2500, notes: /journal audit skipped/ });
});

t.test(
  'the warm-up shows its progress, and every wait says what it waits for and how long at most',
  async (t) => {
    const seed = seedFromEnv();
    t.comment(`seed ${seed} (replay with SEED=${seed})`);
    const result = await run([
      '--buyers',
      '300',
      '--stock',
      '30',
      '--warmup',
      '300',
      '--json',
      '--seed',
      String(seed % 2 ** 31),
    ]);
    t.equal(result.code, 0, `exit 0; stderr:\n${result.stderr}`);
    for (const line of [
      /starting its node \(stampede serve on the file journal; at most \d+ s\)/,
      /creating 2 SKU\(s\) from 1/,
      /warming up: 300 buyers on SKU 2, unmeasured \(at most \d+ s to connect, \d+ s a sale\)/,
      /warm-up done: 300\/300 answered in [\d.]+ s/,
      /the sale: 300 buyers on 1 SKU\(s\) \(at most \d+ s\)/,
      /stopping its node \(fsync, snapshot; at most \d+ s\)/,
      /replaying the file journal .* from scratch/,
    ])
      t.match(result.stderr, line);
  },
);

t.test(
  'a --target is refused before anything is created: without --create-skus, or when it cannot be audited',
  async (t) => {
    const secret = 'flash-sale-refusal-test-secret-0123456789';
    const node = await startServerChild({ STAMPEDE_TOKEN_SECRET: secret });
    t.teardown(() => node.dispose());
    const target = `http://127.0.0.1:${node.port}`;
    const products = async (): Promise<unknown> =>
      (await (await fetch(`${target}/v1/products`)).json()) as unknown;
    const before = await products();
    const small = ['--buyers', '100', '--stock', '10', '--warmup', '0', '--json'];

    const unasked = await run(['--target', target, ...small], { STAMPEDE_TOKEN_SECRET: secret });
    t.equal(unasked.code, 2, unasked.stderr);
    t.match(unasked.stderr, /pass --create-skus to allow that/);

    const wrongSecret = await run(['--target', target, '--create-skus', ...small], {
      STAMPEDE_TOKEN_SECRET: 'not-the-targets-secret-not-the-targets-secret',
    });
    t.equal(wrongSecret.code, 2, wrongSecret.stderr);
    t.match(wrongSecret.stderr, /cannot be audited: it refuses the bench's service token \(HTTP 401\)/);
    t.same(await products(), before, 'the live store got no SKU');
  },
);

t.test(
  'a --target that accepts connections and never answers: refused within the bound, naming the wait',
  async (t) => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const { port } = silent.address() as { port: number };
    const result = await run(
      ['--target', `http://127.0.0.1:${port}`, '--create-skus', '--buyers', '100', '--warmup', '0', '--json'],
      { STAMPEDE_TOKEN_SECRET: 'any-secret-any-secret-any-secret-0123' },
    );
    t.equal(result.code, 2, result.stderr);
    t.match(
      result.stderr,
      new RegExp(
        `cannot be audited: GET http://127.0.0.1:${port}/ready: no answer within ${stampedeRunLimits.httpRequestMsMax} ms`,
      ),
    );
  },
);

t.test('bad options are refused with a message and exit code 2', async (t) => {
  const result = await run(['--buyers', '0']);
  t.equal(result.code, 2);
  t.match(result.stderr, /--buyers must be an integer from 1 to 900000, got '0'/);
  t.throws(() => parseFlashSaleOptions(['--pay', '0.9', '--decline', '0.2'], {}), {
    message: /--pay, --decline and --abandon must add up to 1, got 0.9 \+ 0.2 \+ -0.1/,
  });
  t.throws(() => parseFlashSaleOptions(['--open-loop'], {}), {
    message: /--open-loop and --rate N go together/,
  });
  t.throws(() => parseFlashSaleOptions(['--concurrency', '0'], {}), {
    message: /--concurrency must be an integer from 1 to 100000, got '0'/,
  });
  t.throws(() => parseFlashSaleOptions(['--concurrency', '3', '--clients', '4'], {}), {
    message: /--concurrency must be at least 1 per client worker, got 3 for 4 worker\(s\)/,
  });
  t.throws(() => parseFlashSaleOptions(['--report', 'x.txt'], {}), {
    message: /--report must name an .html file/,
  });
  t.match(parseFlashSaleOptions(['--pay', '0.5'], {}).shares, { pay: 0.5, decline: 0.25, abandon: 0.25 });
});
