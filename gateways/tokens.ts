/**
 * Signed bearer tokens for the three kinds of caller at the edges:
 *
 *   buyer    a person buying; carries the buyer id the engine knows them by
 *   service  a trusted checkout backend acting for many buyers; carries its name
 *   admin    an operator (catalog, stock, prices); carries a name for the audit trail
 *
 * Format (a small, fixed subset of a JWT, without the header: there is one
 * algorithm, so there is nothing to negotiate and no `alg: none` to refuse):
 *
 *   base64url(JSON payload) "." base64url(HMAC-SHA256(secret, <the payload part as sent>))
 *   payload = { "v": 1, "role": "buyer" | "service" | "admin", "sub": <subject>, "iat": <s>, "exp": <s> }
 *
 * `sub` is the buyer id (a number) for a buyer and the name (a string) for a
 * service or an admin. Times are whole seconds since the epoch; a token is
 * expired from the instant `exp` on (`nowMs >= exp * 1000`).
 *
 * Runs on any thread (gateways verify on their own event loop); pure apart
 * from the HMAC. verifyToken never throws on anything a client sends: every
 * bad token is a coded answer, and the cheap checks (length, alphabet) come
 * before any hashing or parsing. The signature is checked before the payload
 * is parsed, so JSON.parse only ever sees bytes this node signed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { protoLimits } from '../proto/limits.ts';

export const tokenLimits = Object.freeze({
  /**
   * Longest token accepted, in bytes (base64url is ASCII: one byte a character).
   * The longest token this module can issue (a 64-character service name,
   * eleven-digit times) is 219 bytes; the rest is slack for a future claim.
   */
  tokenBytesMax: 512,
  /** HMAC-SHA256 keys shorter than its 32-byte output weaken it (RFC 2104 section 3). */
  secretBytesMin: 32,
  /** A secret longer than SHA-256's 64-byte block is hashed first anyway; this bound only catches mistakes. */
  secretBytesMax: 1024,
  /** Buyer ids travel in one Int32 word of the command slot; the protobuf edge refuses larger ones. */
  buyerIdMax: protoLimits.wordValueMax,
  /** Service and admin names: 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit. */
  nameLengthMax: 64,
  /** A token lives at most a year and a day: long-lived credentials are rotated, not kept. */
  ttlMsMax: 366 * 24 * 3600_000,
  /** Shortest lifetime: times are whole seconds, so anything shorter could be born expired. */
  ttlMsMin: 1000,
});

export const TokenRole = { buyer: 'buyer', service: 'service', admin: 'admin' } as const;
export type TokenRole = (typeof TokenRole)[keyof typeof TokenRole];

/** Who a token speaks for. */
export type TokenSubject =
  | { readonly role: 'buyer'; readonly buyerId: number }
  | { readonly role: 'service'; readonly serviceName: string }
  | { readonly role: 'admin'; readonly adminName: string };

/** A verified token: its subject and its lifetime (whole seconds, given in ms). */
export type TokenClaims = TokenSubject & { readonly issuedAtMs: number; readonly expiresAtMs: number };

export const TokenErrorCode = {
  /** No token at all (undefined, null or the empty string). */
  missing: 'TOKEN_MISSING',
  /** Not the shape of a token: too long, wrong alphabet, wrong parts, or a payload that is not ours. */
  malformed: 'TOKEN_MALFORMED',
  /** Well formed, but the signature does not match: altered, or signed with another secret. */
  badSignature: 'TOKEN_BAD_SIGNATURE',
  /** Genuine, but nowMs >= exp. */
  expired: 'TOKEN_EXPIRED',
  /** Genuine, but its role is not one of expectedRoles. */
  wrongRole: 'TOKEN_WRONG_ROLE',
} as const;
export type TokenErrorCode = (typeof TokenErrorCode)[keyof typeof TokenErrorCode];

export type TokenVerification =
  | { readonly ok: true; readonly claims: TokenClaims }
  | { readonly ok: false; readonly code: TokenErrorCode };

export type TokenSecret = string | Uint8Array;

const payloadVersion = 1;
const signatureBytes = 32; // SHA-256
const base64urlPattern = /^[A-Za-z0-9_-]+$/;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const payloadKeys = ['exp', 'iat', 'role', 'sub', 'v'];

const secretByteLength = (secret: TokenSecret): number =>
  typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : secret.byteLength;

/**
 * Throws unless the secret is usable. The message is part of the interface
 * (the config loader and operators see it): it never shows the secret itself.
 */
export function assertTokenSecret(secret: TokenSecret): void {
  const bytes = secretByteLength(secret);
  if (bytes < tokenLimits.secretBytesMin) {
    throw new RangeError(`token secret must be at least ${tokenLimits.secretBytesMin} bytes, got ${bytes}`);
  }
  if (bytes > tokenLimits.secretBytesMax) {
    throw new RangeError(`token secret must be at most ${tokenLimits.secretBytesMax} bytes, got ${bytes}`);
  }
}

/** True when `name` may be a service or admin name. */
export function isTokenName(name: string): boolean {
  return name.length >= 1 && name.length <= tokenLimits.nameLengthMax && namePattern.test(name);
}

/** True when `buyerId` may be a buyer token's subject. */
export function isTokenBuyerId(buyerId: number): boolean {
  return Number.isSafeInteger(buyerId) && buyerId >= 1 && buyerId <= tokenLimits.buyerIdMax;
}

const sign = (secret: TokenSecret, payloadPart: string): Buffer =>
  createHmac('sha256', secret).update(payloadPart, 'ascii').digest();

/**
 * Issues a token for `subject`, valid from nowMs for ttlMs (rounded down to
 * whole seconds, so never longer than asked). Arguments are the issuer's, not
 * a client's: anything out of range is a programmer error and throws.
 */
export function issueToken(
  secret: TokenSecret,
  subject: TokenSubject,
  options: { nowMs: number; ttlMs: number },
): string {
  assertTokenSecret(secret);
  const { nowMs, ttlMs } = options;
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw new RangeError(`token nowMs must be a non-negative integer, got ${nowMs}`);
  }
  if (!Number.isSafeInteger(ttlMs) || ttlMs < tokenLimits.ttlMsMin || ttlMs > tokenLimits.ttlMsMax) {
    throw new RangeError(
      `token ttlMs must be an integer from ${tokenLimits.ttlMsMin} to ${tokenLimits.ttlMsMax}, got ${ttlMs}`,
    );
  }
  let sub: number | string;
  switch (subject.role) {
    case 'buyer':
      if (!isTokenBuyerId(subject.buyerId)) {
        throw new RangeError(
          `token buyerId must be an integer from 1 to ${tokenLimits.buyerIdMax}, got ${subject.buyerId}`,
        );
      }
      sub = subject.buyerId;
      break;
    case 'service':
    case 'admin': {
      const name = subject.role === 'service' ? subject.serviceName : subject.adminName;
      if (!isTokenName(name)) {
        throw new RangeError(
          `token ${subject.role} name must be 1-${tokenLimits.nameLengthMax} characters of [A-Za-z0-9._-] starting with a letter or digit, got '${name}'`,
        );
      }
      sub = name;
      break;
    }
    default: {
      const never: never = subject;
      throw new RangeError(`unknown token role in ${JSON.stringify(never)}`);
    }
  }
  const iat = Math.floor(nowMs / 1000);
  const exp = Math.floor((nowMs + ttlMs) / 1000);
  const payloadPart = Buffer.from(
    JSON.stringify({ v: payloadVersion, role: subject.role, sub, iat, exp }),
    'utf8',
  ).toString('base64url');
  const token = `${payloadPart}.${sign(secret, payloadPart).toString('base64url')}`;
  // Our own output must pass our own limit, or the edge would refuse what the node issued.
  if (token.length > tokenLimits.tokenBytesMax) throw new Error(`issued token is ${token.length} bytes`);
  return token;
}

/**
 * Decodes base64url, or null unless `text` is the canonical encoding of its
 * bytes. Buffer's decoder ignores stray trailing bits, so without this check
 * several strings would carry one signature: tokens must not be malleable
 * (a token may be a cache or revocation key).
 */
function decodeCanonical(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

const isSeconds = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The claims of a signed payload, or null when it is not a payload this module issues. */
function parsePayload(bytes: Buffer): TokenClaims | null {
  let payload: unknown;
  try {
    payload = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null;
  const keys = Object.keys(payload).sort();
  if (keys.length !== payloadKeys.length || keys.some((key, i) => key !== payloadKeys[i])) return null;
  const { v, role, sub, iat, exp } = payload as Record<string, unknown>;
  if (v !== payloadVersion || !isSeconds(iat) || !isSeconds(exp) || exp <= iat) return null;
  const times = { issuedAtMs: iat * 1000, expiresAtMs: exp * 1000 };
  switch (role) {
    case 'buyer':
      return typeof sub === 'number' && isTokenBuyerId(sub) ? { role, buyerId: sub, ...times } : null;
    case 'service':
      return typeof sub === 'string' && isTokenName(sub) ? { role, serviceName: sub, ...times } : null;
    case 'admin':
      return typeof sub === 'string' && isTokenName(sub) ? { role, adminName: sub, ...times } : null;
    default:
      return null;
  }
}

/**
 * Verifies a token a client sent (anything: it is `unknown` until checked).
 * Checks, in order: present; shape (length, two base64url parts, a 32-byte
 * signature); signature (constant time); payload; role; expiry. The role
 * comes before expiry because a fresh token would not help a caller whose
 * role is wrong, and TOKEN_EXPIRED tells a client to fetch one.
 */
export function verifyToken(
  secret: TokenSecret,
  token: unknown,
  nowMs: number,
  expectedRoles?: readonly TokenRole[],
): TokenVerification {
  assertTokenSecret(secret);
  if (token === undefined || token === null || token === '') return { ok: false, code: 'TOKEN_MISSING' };
  if (typeof token !== 'string' || token.length > tokenLimits.tokenBytesMax) {
    return { ok: false, code: 'TOKEN_MALFORMED' };
  }
  const dot = token.indexOf('.');
  if (dot <= 0 || dot === token.length - 1) return { ok: false, code: 'TOKEN_MALFORMED' };
  const payloadPart = token.slice(0, dot);
  const signaturePart = token.slice(dot + 1);
  if (!base64urlPattern.test(payloadPart) || !base64urlPattern.test(signaturePart)) {
    return { ok: false, code: 'TOKEN_MALFORMED' }; // also refuses a second '.'
  }
  const signature = decodeCanonical(signaturePart);
  if (signature === null || signature.byteLength !== signatureBytes)
    return { ok: false, code: 'TOKEN_MALFORMED' };
  if (!timingSafeEqual(signature, sign(secret, payloadPart)))
    return { ok: false, code: 'TOKEN_BAD_SIGNATURE' };

  const payloadBytes = decodeCanonical(payloadPart);
  // Signed by this secret yet not parseable: an issuer bug or a future payload version.
  const claims = payloadBytes === null ? null : parsePayload(payloadBytes);
  if (claims === null) return { ok: false, code: 'TOKEN_MALFORMED' };
  if (expectedRoles !== undefined && !expectedRoles.includes(claims.role)) {
    return { ok: false, code: 'TOKEN_WRONG_ROLE' };
  }
  if (!(nowMs < claims.expiresAtMs)) return { ok: false, code: 'TOKEN_EXPIRED' };
  return { ok: true, claims };
}
