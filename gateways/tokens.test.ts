/**
 * Tokens as a gateway sees them: a token this node issued verifies, and
 * everything else — missing, mangled, forged, stale, the wrong role, random
 * bytes — is a coded refusal, never an exception and never a pass.
 */
import { createHmac } from 'node:crypto';
import t from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { issueToken, type TokenSubject, tokenLimits, verifyToken } from './tokens.ts';

const secret = 'a-test-secret-that-is-at-least-32-bytes-long';
const otherSecret = 'another-secret-that-is-at-least-32-bytes-long';
const nowMs = 1_700_000_000_000;
const hourMs = 3600_000;

const buyer: TokenSubject = { role: 'buyer', buyerId: 42 };
const service: TokenSubject = { role: 'service', serviceName: 'checkout-eu.1' };
const admin: TokenSubject = { role: 'admin', adminName: 'ops' };

/** Signs any payload text like the real tokens are signed, to reach the checks after the signature. */
const forgeText = (text: string, key = secret): string => {
  const payloadPart = Buffer.from(text).toString('base64url');
  return `${payloadPart}.${createHmac('sha256', key).update(payloadPart).digest('base64url')}`;
};
const forge = (payload: unknown, key = secret): string => forgeText(JSON.stringify(payload), key);

const base64urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The same significant bits with the lowest stray bit set (canonical last characters have it clear). */
const strayBitSet = (last: string): string => base64urlAlphabet[base64urlAlphabet.indexOf(last) + 1]!;

t.test('round trip: each role verifies to the claims it was issued with', async (t) => {
  for (const subject of [buyer, service, admin]) {
    const token = issueToken(secret, subject, { nowMs, ttlMs: hourMs });
    t.ok(token.length <= tokenLimits.tokenBytesMax);
    t.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    t.strictSame(verifyToken(secret, token, nowMs), {
      ok: true,
      claims: { ...subject, issuedAtMs: nowMs, expiresAtMs: nowMs + hourMs },
    });
  }
  const payload = JSON.parse(
    Buffer.from(issueToken(secret, buyer, { nowMs, ttlMs: hourMs }).split('.')[0]!, 'base64url').toString(),
  );
  t.strictSame(payload, { v: 1, role: 'buyer', sub: 42, iat: nowMs / 1000, exp: nowMs / 1000 + 3600 });
  // A Uint8Array secret with the same bytes is the same secret.
  const token = issueToken(Buffer.from(secret), buyer, { nowMs, ttlMs: hourMs });
  t.equal(verifyToken(secret, token, nowMs).ok, true);
});

t.test('times are whole seconds, rounded so a token never outlives its ttl', async (t) => {
  const token = issueToken(secret, buyer, { nowMs: nowMs + 999, ttlMs: hourMs });
  const result = verifyToken(secret, token, nowMs + 999);
  t.ok(result.ok);
  if (result.ok) {
    t.equal(result.claims.issuedAtMs, nowMs);
    t.equal(result.claims.expiresAtMs, nowMs + hourMs); // asked: nowMs + 999 + hourMs
  }
});

t.test('expiry edge: valid until the last ms before exp, expired at exp', async (t) => {
  const token = issueToken(secret, buyer, { nowMs, ttlMs: 60_000 });
  t.equal(verifyToken(secret, token, nowMs + 59_999).ok, true);
  t.strictSame(verifyToken(secret, token, nowMs + 60_000), { ok: false, code: 'TOKEN_EXPIRED' });
  t.strictSame(verifyToken(secret, token, nowMs + 10 * hourMs), { ok: false, code: 'TOKEN_EXPIRED' });
  t.strictSame(verifyToken(secret, token, Number.NaN), { ok: false, code: 'TOKEN_EXPIRED' }, 'fails closed');
});

t.test('TOKEN_MISSING for no token', async (t) => {
  for (const token of [undefined, null, '']) {
    t.strictSame(verifyToken(secret, token, nowMs), { ok: false, code: 'TOKEN_MISSING' });
  }
});

t.test('TOKEN_MALFORMED for anything not shaped like a token', async (t) => {
  const good = issueToken(secret, buyer, { nowMs, ttlMs: hourMs });
  const [payloadPart, signaturePart] = good.split('.') as [string, string];
  const cases: [string, unknown][] = [
    ['a number', 42],
    ['an object', { token: good }],
    ['no dot', 'abcdef'],
    ['empty payload part', `.${signaturePart}`],
    ['empty signature part', `${payloadPart}.`],
    ['three parts', `${good}.${signaturePart}`],
    ['standard base64 alphabet', `${payloadPart}+/.${signaturePart}`],
    ['padding', `${payloadPart}.${signaturePart}=`],
    ['whitespace', ` ${good}`],
    ['short signature', `${payloadPart}.${signaturePart.slice(0, 40)}`],
    // 32 bytes take 43 characters: the last one carries 2 stray bits a lenient decoder ignores.
    [
      'non-canonical signature',
      `${payloadPart}.${signaturePart.slice(0, 42)}${strayBitSet(signaturePart[42]!)}`,
    ],
    ['over tokenBytesMax', `${'A'.repeat(tokenLimits.tokenBytesMax)}.${signaturePart}`],
  ];
  for (const [name, token] of cases) {
    t.strictSame(verifyToken(secret, token, nowMs), { ok: false, code: 'TOKEN_MALFORMED' }, name);
  }
});

t.test('TOKEN_MALFORMED for a correctly signed payload that is not one we issue', async (t) => {
  const base = { v: 1, role: 'buyer', sub: 42, iat: nowMs / 1000, exp: nowMs / 1000 + 60 };
  const cases: [string, unknown][] = [
    ['not an object', [1, 2]],
    ['null', null],
    ['version 2', { ...base, v: 2 }],
    ['unknown role', { ...base, role: 'root' }],
    ['extra key', { ...base, scope: 'all' }],
    ['missing key', { v: 1, role: 'buyer', sub: 42, exp: base.exp }],
    ['buyer id 0', { ...base, sub: 0 }],
    ['buyer id over the Int32 word', { ...base, sub: 2 ** 31 }],
    ['buyer id as a string', { ...base, sub: '42' }],
    ['fractional buyer id', { ...base, sub: 4.2 }],
    ['service with a number', { ...base, role: 'service', sub: 7 }],
    ['service name with a space', { ...base, role: 'service', sub: 'a b' }],
    ['admin with an empty name', { ...base, role: 'admin', sub: '' }],
    ['exp before iat', { ...base, exp: base.iat - 1 }],
    ['exp equal to iat', { ...base, exp: base.iat }],
    ['fractional exp', { ...base, exp: base.exp + 0.5 }],
    ['negative iat', { ...base, iat: -1 }],
    ['exp as a string', { ...base, exp: String(base.exp) }],
  ];
  for (const [name, payload] of cases) {
    t.strictSame(verifyToken(secret, forge(payload), nowMs), { ok: false, code: 'TOKEN_MALFORMED' }, name);
  }
  for (const text of ['not json', '{"v":1', '']) {
    t.strictSame(verifyToken(secret, forgeText(text), nowMs), { ok: false, code: 'TOKEN_MALFORMED' }, text);
  }
  t.equal(verifyToken(secret, forge(base), nowMs).ok, true, 'the unmodified base is valid');
});

t.test('TOKEN_BAD_SIGNATURE for another secret, a tampered payload or signature', async (t) => {
  const good = issueToken(secret, buyer, { nowMs, ttlMs: hourMs });
  const [payloadPart, signaturePart] = good.split('.') as [string, string];
  const bad = { ok: false, code: 'TOKEN_BAD_SIGNATURE' };
  t.strictSame(verifyToken(otherSecret, good, nowMs), bad, 'signed with another secret');
  t.strictSame(verifyToken(secret, issueToken(otherSecret, buyer, { nowMs, ttlMs: hourMs }), nowMs), bad);

  // Become buyer 43, or an admin, keeping the signature.
  const payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString());
  for (const changed of [
    { ...payload, sub: 43 },
    { ...payload, role: 'admin', sub: 'ops' },
    { ...payload, exp: payload.exp + 3600 },
  ]) {
    const tampered = `${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${signaturePart}`;
    t.strictSame(verifyToken(secret, tampered, nowMs), bad);
  }
  // One character of the signature changed (the first: all six of its bits are significant).
  const flipped = `${signaturePart[0] === 'A' ? 'B' : 'A'}${signaturePart.slice(1)}`;
  t.strictSame(verifyToken(secret, `${payloadPart}.${flipped}`, nowMs), bad);
  // The signature is checked before the payload is read: forged garbage is a bad signature, not malformed.
  t.strictSame(verifyToken(secret, forge({ anything: true }, otherSecret), nowMs), bad);
});

t.test('TOKEN_WRONG_ROLE when the role is not expected, and before expiry', async (t) => {
  const buyerToken = issueToken(secret, buyer, { nowMs, ttlMs: hourMs });
  t.strictSame(verifyToken(secret, buyerToken, nowMs, ['admin']), { ok: false, code: 'TOKEN_WRONG_ROLE' });
  t.strictSame(verifyToken(secret, buyerToken, nowMs, ['service', 'admin']), {
    ok: false,
    code: 'TOKEN_WRONG_ROLE',
  });
  t.equal(verifyToken(secret, buyerToken, nowMs, ['buyer', 'service']).ok, true);
  t.strictSame(verifyToken(secret, buyerToken, nowMs + 2 * hourMs, ['admin']), {
    ok: false,
    code: 'TOKEN_WRONG_ROLE',
  });
});

t.test('secrets shorter than 32 bytes are refused with an exact message that hides the secret', async (t) => {
  t.throws(() => issueToken('short-secret', buyer, { nowMs, ttlMs: hourMs }), {
    name: 'RangeError',
    message: 'token secret must be at least 32 bytes, got 12',
  });
  t.throws(() => verifyToken('x'.repeat(31), 'a.b', nowMs), {
    message: 'token secret must be at least 32 bytes, got 31',
  });
  // Bytes, not characters: 16 two-byte characters are 32 bytes.
  t.doesNotThrow(() => issueToken('é'.repeat(16), buyer, { nowMs, ttlMs: hourMs }));
  t.doesNotThrow(() => issueToken(new Uint8Array(32), buyer, { nowMs, ttlMs: hourMs }));
});

t.test('issueToken refuses out-of-range arguments (issuer bugs)', async (t) => {
  const options = { nowMs, ttlMs: hourMs };
  t.throws(
    () => issueToken(secret, { role: 'buyer', buyerId: 0 }, options),
    /buyerId must be an integer from 1/,
  );
  t.throws(() => issueToken(secret, { role: 'buyer', buyerId: 2 ** 31 }, options), /buyerId/);
  t.throws(() => issueToken(secret, { role: 'service', serviceName: '' }, options), /service name/);
  t.throws(() => issueToken(secret, { role: 'admin', adminName: 'x'.repeat(65) }, options), /admin name/);
  t.throws(() => issueToken(secret, buyer, { nowMs, ttlMs: 999 }), /ttlMs must be an integer from 1000/);
  t.throws(() => issueToken(secret, buyer, { nowMs, ttlMs: tokenLimits.ttlMsMax + 1 }), /ttlMs/);
  t.throws(() => issueToken(secret, buyer, { nowMs: -1, ttlMs: hourMs }), /nowMs/);
  // The longest token we can issue stays well inside the limit.
  const longest = issueToken(
    secret,
    { role: 'service', serviceName: 'x'.repeat(64) },
    {
      nowMs: 9_000_000_000_000,
      ttlMs: tokenLimits.ttlMsMax,
    },
  );
  t.ok(longest.length < 256, `longest token is ${longest.length} bytes`);
});

t.test('fuzz: random strings and mutated tokens never throw and never pass', async (t) => {
  const seed = seedFromEnv();
  t.comment(`seed ${seed} (replay with SEED=${seed})`);
  const random = new SeededRandom(seed);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u00e9\u0000{}"';
  const valid = [buyer, service, admin].map((subject) =>
    issueToken(secret, subject, { nowMs, ttlMs: hourMs }),
  );
  let refused = 0;
  for (let i = 0; i < 20_000; i++) {
    let token: string;
    if (random.chance(0.5)) {
      const length = random.int(0, random.chance(0.1) ? 2 * tokenLimits.tokenBytesMax : 120);
      token = '';
      for (let j = 0; j < length; j++) token += alphabet[random.int(0, alphabet.length - 1)];
    } else {
      // A valid token with one to three characters replaced, inserted or deleted.
      const original = random.pick(valid);
      token = original;
      for (let edits = random.int(1, 3); edits > 0; edits--) {
        const at = random.int(0, token.length - 1);
        const char = alphabet[random.int(0, alphabet.length - 1)]!;
        const kind = random.int(0, 2);
        token =
          kind === 0
            ? token.slice(0, at) + char + token.slice(at + 1)
            : kind === 1
              ? token.slice(0, at) + char + token.slice(at)
              : token.slice(0, at) + token.slice(at + 1);
      }
      if (token === original) continue;
    }
    const result = verifyToken(secret, token, nowMs);
    if (result.ok) t.fail(`seed ${seed}: a forged token passed: ${JSON.stringify(token)}`);
    else refused++;
  }
  t.ok(refused > 19_000, `${refused} refused`);
});
