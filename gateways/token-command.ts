/**
 * `stampede token`: prints a token for a buyer, a service or an admin, signed
 * with the secret the node uses — the configured one (STAMPEDE_TOKEN_SECRET
 * or the config file), else the data directory's (generated on first use, so
 * tokens can be minted before the node first starts). The same loadConfig as
 * `serve`, so a token printed here verifies there.
 *
 * The token alone goes to stdout (for `TOKEN=$(stampede token --buyer 7)`);
 * what it is and when it expires goes to stderr.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, secretFileName, tokenSecretOf } from './config.ts';
import { issueToken, isTokenBuyerId, isTokenName, type TokenSubject, tokenLimits } from './tokens.ts';

export const tokenCommandUsage = `Usage:
  stampede token --buyer ID     [--ttl 24h] [--data DIR] [--config FILE]
  stampede token --service NAME [--ttl 24h] [--data DIR] [--config FILE]
  stampede token --admin        [--ttl 24h] [--data DIR] [--config FILE]

Prints a token signed with STAMPEDE_TOKEN_SECRET (or the config file's tokenSecret),
else with DIR/secret, created on first use. --ttl takes ms, s, m, h or d (default 24h, at most 366d).`;

export interface TokenCommandIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  nowMs: () => number;
}

const processIo: TokenCommandIo = {
  env: process.env,
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  nowMs: () => Date.now(),
};

class TokenUsageError extends Error {}

const unitMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** '90s', '30m', '24h', '7d', '1500ms' -> milliseconds. */
export function parseTtlMs(text: string): number {
  const match = /^(\d{1,12})(ms|s|m|h|d)$/.exec(text);
  const ttlMs = match === null ? Number.NaN : Number(match[1]) * unitMs[match[2]!]!;
  if (!(ttlMs >= tokenLimits.ttlMsMin && ttlMs <= tokenLimits.ttlMsMax)) {
    throw new TokenUsageError(`--ttl must be a duration from 1s to 366d (e.g. 30m, 24h, 7d), got '${text}'`);
  }
  return ttlMs;
}

function subjectFrom(values: {
  buyer?: string | undefined;
  service?: string | undefined;
  admin?: boolean | undefined;
}): TokenSubject {
  const given = [values.buyer !== undefined, values.service !== undefined, values.admin === true].filter(
    Boolean,
  );
  if (given.length !== 1)
    throw new TokenUsageError('give exactly one of --buyer ID, --service NAME, --admin');
  if (values.buyer !== undefined) {
    const buyerId = /^\d{1,10}$/.test(values.buyer) ? Number(values.buyer) : Number.NaN;
    if (!isTokenBuyerId(buyerId)) {
      throw new TokenUsageError(
        `--buyer must be an integer from 1 to ${tokenLimits.buyerIdMax}, got '${values.buyer}'`,
      );
    }
    return { role: 'buyer', buyerId };
  }
  if (values.service !== undefined) {
    if (!isTokenName(values.service)) {
      throw new TokenUsageError(
        `--service must be 1-${tokenLimits.nameLengthMax} characters of [A-Za-z0-9._-] starting with a letter or digit, got '${values.service}'`,
      );
    }
    return { role: 'service', serviceName: values.service };
  }
  return { role: 'admin', adminName: 'admin' };
}

const describe = (subject: TokenSubject): string =>
  subject.role === 'buyer'
    ? `buyer ${subject.buyerId}`
    : subject.role === 'service'
      ? `service ${subject.serviceName}`
      : 'admin';

/** Runs `stampede token ARGS`; returns the exit code (0 ok, 2 bad usage or configuration). */
export async function runTokenCommand(args: string[], io: TokenCommandIo = processIo): Promise<number> {
  try {
    const { values } = parseArgs({
      args,
      options: {
        buyer: { type: 'string' },
        service: { type: 'string' },
        admin: { type: 'boolean' },
        ttl: { type: 'string' },
        data: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.stdout(tokenCommandUsage);
      return 0;
    }
    const subject = subjectFrom(values);
    const ttlMs = parseTtlMs(values.ttl ?? '24h');
    const config = loadConfig({ env: io.env, file: values.config, overrides: { dataDir: values.data } });
    const secret = tokenSecretOf(config);
    const nowMs = io.nowMs();
    const token = issueToken(secret, subject, { nowMs, ttlMs });
    const expiresAt = new Date(Math.floor((nowMs + ttlMs) / 1000) * 1000).toISOString();
    const signedWith =
      config.tokenSecret === undefined ? join(config.dataDir, secretFileName) : 'the configured tokenSecret';
    io.stderr(`token for ${describe(subject)}, expires ${expiresAt}, signed with ${signedWith}`);
    io.stdout(token);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`stampede token: ${error.code}: ${error.message}`);
      return 2;
    }
    const code = (error as { code?: unknown }).code;
    if (
      error instanceof TokenUsageError ||
      (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))
    ) {
      io.stderr(`stampede token: ${(error as Error).message}\n\n${tokenCommandUsage}`);
      return 2;
    }
    throw error;
  }
}
