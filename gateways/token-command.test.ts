/**
 * `stampede token` as an operator uses it: the printed token verifies with
 * the secret the node will use, for the role asked, for the time asked; bad
 * arguments and bad configuration exit 2 with a message and print no token.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadOrCreateSecret } from './config.ts';
import { parseTtlMs, runTokenCommand } from './token-command.ts';
import { verifyToken } from './tokens.ts';

const nowMs = 1_700_000_000_000;
const envSecret = 's'.repeat(40);

async function run(args: string[], env: Record<string, string> = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runTokenCommand(args, {
    env,
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
    nowMs: () => nowMs,
  });
  return { code, stdout, stderr: stderr.join('\n') };
}

const dataDirFor = (t: { teardown: (fn: () => void) => void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'stampede-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'data');
};

t.test('prints a buyer token signed with the data directory secret, valid for 24h', async (t) => {
  const dataDir = dataDirFor(t);
  const { code, stdout, stderr } = await run(['--buyer', '42', '--data', dataDir]);
  t.equal(code, 0);
  t.equal(stdout.length, 1, 'only the token on stdout');
  t.match(
    stderr,
    `token for buyer 42, expires 2023-11-15T22:13:20.000Z, signed with ${join(dataDir, 'secret')}`,
  );
  const secret = loadOrCreateSecret(dataDir);
  t.strictSame(verifyToken(secret, stdout[0], nowMs), {
    ok: true,
    claims: { role: 'buyer', buyerId: 42, issuedAtMs: nowMs, expiresAtMs: nowMs + 24 * 3600_000 },
  });
  t.equal(verifyToken(secret, stdout[0], nowMs + 24 * 3600_000).ok, false, 'expired after 24h');
});

t.test('service and admin tokens, a --ttl, STAMPEDE_DATA_DIR', async (t) => {
  const dataDir = dataDirFor(t);
  const service = await run(['--service', 'checkout-eu', '--ttl', '30m'], { STAMPEDE_DATA_DIR: dataDir });
  t.equal(service.code, 0);
  const secret = loadOrCreateSecret(dataDir);
  const claims = verifyToken(secret, service.stdout[0], nowMs, ['service']);
  t.ok(claims.ok && claims.claims.role === 'service' && claims.claims.serviceName === 'checkout-eu');
  t.ok(claims.ok && claims.claims.expiresAtMs === nowMs + 30 * 60_000);
  const admin = await run(['--admin', '--data', dataDir]);
  t.equal(admin.code, 0);
  t.ok(verifyToken(secret, admin.stdout[0], nowMs, ['admin']).ok);
});

t.test('a configured secret wins and no secret file is created', async (t) => {
  const dataDir = dataDirFor(t);
  const { code, stdout, stderr } = await run(['--buyer', '7', '--data', dataDir], {
    STAMPEDE_TOKEN_SECRET: envSecret,
  });
  t.equal(code, 0);
  t.ok(verifyToken(envSecret, stdout[0], nowMs).ok);
  t.match(stderr, 'signed with the configured tokenSecret');
  t.notOk(existsSync(join(dataDir, 'secret')));
});

t.test('bad usage exits 2 with a message and no token', async (t) => {
  const cases: [string[], string][] = [
    [[], 'give exactly one of --buyer ID, --service NAME, --admin'],
    [['--buyer', '1', '--admin'], 'give exactly one of --buyer ID, --service NAME, --admin'],
    [['--buyer', '0'], "--buyer must be an integer from 1 to 2147483647, got '0'"],
    [['--buyer', '2147483648'], "--buyer must be an integer from 1 to 2147483647, got '2147483648'"],
    [['--buyer', 'abc'], "--buyer must be an integer from 1 to 2147483647, got 'abc'"],
    [['--service', 'has space'], '--service must be 1-64 characters of [A-Za-z0-9._-]'],
    [
      ['--buyer', '1', '--ttl', '5y'],
      "--ttl must be a duration from 1s to 366d (e.g. 30m, 24h, 7d), got '5y'",
    ],
    [['--buyer', '1', '--ttl', '367d'], '--ttl must be a duration from 1s to 366d'],
    [['--buyer', '1', '--nope'], "Unknown option '--nope'"],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await run(args);
    t.equal(code, 2, args.join(' '));
    t.strictSame(stdout, []);
    t.match(stderr, message);
    t.match(stderr, 'Usage:');
  }
});

t.test('bad configuration exits 2 with the config problems', async (t) => {
  const { code, stdout, stderr } = await run(['--buyer', '1', '--data', dataDirFor(t)], {
    STAMPEDE_HTTP_PORT: 'abc',
  });
  t.equal(code, 2);
  t.strictSame(stdout, []);
  t.match(
    stderr,
    "stampede token: CONFIG_INVALID: configuration is invalid: STAMPEDE_HTTP_PORT must be an integer from 0 to 65535, got 'abc'",
  );
});

t.test('--help', async (t) => {
  const { code, stdout } = await run(['--help']);
  t.equal(code, 0);
  t.match(stdout[0], /stampede token --buyer ID/);
});

t.test('ttl units', async (t) => {
  t.equal(parseTtlMs('1500ms'), 1500);
  t.equal(parseTtlMs('90s'), 90_000);
  t.equal(parseTtlMs('30m'), 1_800_000);
  t.equal(parseTtlMs('24h'), 86_400_000);
  t.equal(parseTtlMs('366d'), 366 * 86_400_000);
  t.throws(() => parseTtlMs('999ms'), /--ttl must be a duration from 1s/);
  t.throws(() => parseTtlMs('1.5h'));
  t.throws(() => parseTtlMs('h'));
});
