/**
 * The redis-lua baseline's pipeline against the real Redis: every call gets
 * its own reply, in order, however the replies are split across reads; an
 * error reply fails only its call; a connection that drops fails what is
 * outstanding and everything after, with a message that says so.
 */
import t, { type Test } from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { freshRedisPrefix } from '../projections/testing/stores.ts';
import { TcpProxy } from '../projections/testing/tcp-proxy.ts';
import { RedisReplyError, RedisScriptPipeline, ReplyLines } from './redis-script-pipeline.ts';

// Doubles its argument, counts calls in its key, refuses 13 with an error reply and answers 7 with a string.
const script = `
if ARGV[1] == '13' then return redis.error_reply('UNLUCKY thirteen') end
if ARGV[1] == '7' then return 'seven' end
redis.call('INCR', KEYS[1])
return tonumber(ARGV[1]) * 2
`;

async function setUp(t: Test, url?: string) {
  const redis = await freshRedisPrefix(t);
  const sha = (await redis.client.script('LOAD', script)) as string;
  const name = `${redis.prefix.slice(0, -1)}-pipeline`;
  const pipeline = await RedisScriptPipeline.connect(url ?? redis.url, sha, name);
  t.teardown(() => pipeline.close());
  const counter = `${redis.prefix}calls`;
  return { ...redis, pipeline, name, counter, keys: [counter] };
}

t.test('reply lines come out whole however the reads cut them (seeded)', async (t) => {
  const seed = seedFromEnv();
  const random = new SeededRandom(seed);
  for (let round = 0; round < 200; round++) {
    const expected = Array.from({ length: random.int(1, 40) }, () => {
      const kind = random.pick([':', '+', '-']);
      const text = kind === ':' ? String(random.int(-1, 2 ** 31)) : `ERR ${'x'.repeat(random.int(0, 30))}`;
      return `${kind}${text}`;
    });
    const bytes = Buffer.from(expected.map((line) => `${line}\r\n`).join(''), 'latin1');
    const lines = new ReplyLines();
    const got: string[] = [];
    for (let at = 0; at < bytes.length; ) {
      const end = Math.min(bytes.length, at + random.int(1, 12)); // cuts fall anywhere, between \r and \n too
      lines.feed(
        bytes.subarray(at, end),
        (kind, line) => got.push(`${String.fromCharCode(kind)}${line}`) > 0,
      );
      at = end;
    }
    if (!t.same(got, expected, `round ${round}`)) {
      t.comment(`seed ${seed} (replay with SEED=${seed})`);
      return;
    }
  }
  const lines = new ReplyLines();
  const got: string[] = [];
  lines.feed(Buffer.from(':1\r\n:2\r\n:3\r\n'), (_, line) => got.push(line) < 2);
  t.same(got, ['1', '2'], 'stops when told to');
});

t.test('20,000 calls in one turn: each answered with its own reply, in order', async (t) => {
  const { client, pipeline, counter, keys, name } = await setUp(t);
  const calls = Array.from({ length: 20_000 }, (_, i) => pipeline.call(keys, [i + 100]));
  const replies = await Promise.all(calls);
  t.same(
    replies.findIndex((reply, i) => reply !== (i + 100) * 2),
    -1,
    'every reply is its own call’s',
  );
  t.equal(await client.get(counter), '20000', 'Redis ran every call once');
  t.match(await client.client('LIST'), new RegExp(`name=${name} `), 'the connection is named');
});

t.test('integer arguments of every length reach the script as written', async (t) => {
  const { pipeline, keys } = await setUp(t);
  const args = [0, 1, 9, 10, 99, 100, 999, 1000, 65_535, 2 ** 31, 10 ** 15 - 1, 10 ** 15, 2 ** 52];
  t.same(
    await Promise.all(args.map((n) => pipeline.call(keys, [n]))),
    args.map((n) => n * 2),
  );
  t.throws(() => pipeline.call(keys, [-1]), /script args are integers >= 0, got -1/);
  t.throws(() => pipeline.call(keys, [1.5]), /got 1.5/);
});

t.test('an error reply fails its call alone, with the error’s code', async (t) => {
  const { pipeline, keys } = await setUp(t);
  const settled = await Promise.allSettled([12, 13, 14].map((n) => pipeline.call(keys, [n])));
  t.match(settled[0], { status: 'fulfilled', value: 24 });
  t.match(settled[1], { status: 'rejected', reason: { code: 'UNLUCKY', message: /UNLUCKY thirteen/ } });
  t.ok((settled[1] as PromiseRejectedResult).reason instanceof RedisReplyError);
  t.match(settled[2], { status: 'fulfilled', value: 28 });
  t.equal(await pipeline.call(keys, [1]), 2, 'and the pipeline goes on');
});

t.test(
  'a reply the pipeline cannot read fails its call and every one after',
  { timeout: 10_000 },
  async (t) => {
    const { pipeline, keys } = await setUp(t);
    const settled = await Promise.allSettled([6, 7, 8].map((n) => pipeline.call(keys, [n])));
    t.match(settled[0], { status: 'fulfilled', value: 12 });
    t.match(settled[1], { status: 'rejected', reason: { message: /an unexpected reply: \$5/ } });
    t.match(settled[2], { status: 'rejected', reason: { message: /an unexpected reply/ } });
    await t.rejects(pipeline.call(keys, [1]), /an unexpected reply/, 'and the pipeline stays failed');
  },
);

t.test('a dropped connection fails the calls outstanding and every later one', async (t) => {
  const { url } = await freshRedisPrefix(t);
  const target = new URL(url);
  const proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
  t.teardown(() => proxy.close());
  target.hostname = '127.0.0.1';
  target.port = String(proxy.port);
  const { pipeline, keys } = await setUp(t, target.toString());
  t.equal(await pipeline.call(keys, [1]), 2, 'through the proxy');
  const outstanding = pipeline.call(keys, [2]);
  proxy.cut();
  await t.rejects(outstanding, /redis-lua pipeline: .*(closed|ECONNRESET)/);
  await t.rejects(pipeline.call(keys, [3]), /redis-lua pipeline/, 'a later call fails at once');
});

t.test('refuses what it cannot speak, and says where it could not connect', async (t) => {
  await t.rejects(
    RedisScriptPipeline.connect('rediss://127.0.0.1:6379', 'sha', 'x'),
    /plain TCP \(redis:\/\/\), not rediss:/,
  );
  const redis = new URL((await freshRedisPrefix(t)).url);
  redis.pathname = '/99999';
  await t.rejects(
    RedisScriptPipeline.connect(redis.toString(), 'sha', 'x'),
    { code: 'ERR', message: /Redis answered: ERR DB index is out of range/ },
    'a database Redis does not have',
  );
  await t.rejects(
    RedisScriptPipeline.connect('redis://127.0.0.1:1', 'sha', 'x'),
    /cannot connect to 127\.0\.0\.1:1: .*ECONNREFUSED/,
  );
});
