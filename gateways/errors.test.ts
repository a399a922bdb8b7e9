/**
 * Keeps the edge error catalogue honest: complete against the engine's
 * ResultCodes and the token codes, self-consistent, in step with
 * docs/errors.md (parsed, column by column), and covering every code the
 * gateway sources answer with.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ResultCode } from '../engine/codes.ts';
import {
  closeCodeOf,
  type ErrorSpec,
  errorCatalogue,
  errorCodeOfResult,
  errorSpec,
  httpStatusOf,
  isErrorCode,
  isRetriable,
  WsCloseCode,
} from './errors.ts';
import { TokenErrorCode } from './tokens.ts';

const docsPath = fileURLToPath(new URL('../docs/errors.md', import.meta.url));
const gatewaysDir = fileURLToPath(new URL('.', import.meta.url));
const entries = Object.entries(errorCatalogue) as [string, ErrorSpec][];

/** The documentation row of an entry, cell by cell, as docs/errors.md writes it. */
const cellsOf = (code: string, spec: ErrorSpec): string[] => [
  `\`${code}\``,
  spec.kind,
  spec.resultCode === null ? '—' : String(spec.resultCode),
  spec.httpStatus === null ? '—' : String(spec.httpStatus),
  spec.ws === null ? '—' : spec.ws === 'open' ? 'open' : `close ${spec.ws}`,
  spec.retriable ? 'yes' : 'no',
  spec.retryAfterMs ? 'yes' : 'no',
  spec.meaning,
];
const columns = ['code', 'kind', 'result', 'HTTP', 'WebSocket', 'retriable', 'retryAfterMs', 'meaning'];

/** The rows of the markdown table whose header starts with `firstColumn`, as trimmed cells. */
function tableRows(markdown: string, firstColumn: string): { header: string[]; rows: string[][] } {
  const lines = markdown.split('\n');
  const split = (line: string): string[] =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((cell) => cell.trim());
  const start = lines.findIndex((line) => line.startsWith('|') && split(line)[0] === firstColumn);
  if (start < 0) return { header: [], rows: [] };
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(split(lines[i]!));
  return { header: split(lines[start]!), rows };
}

t.test('every business ResultCode but ok has an entry under its name, with its number', async (t) => {
  for (const [name, number] of Object.entries(ResultCode)) {
    if (name === 'ok') {
      t.notOk(isErrorCode(name), 'ok is not an error');
      t.throws(() => errorCodeOfResult(number), /result ok has no error code/);
      continue;
    }
    t.ok(isErrorCode(name), `${name} is in the catalogue`);
    t.equal(errorSpec(name).kind, 'business');
    t.equal(errorSpec(name).resultCode, number, `${name} carries ResultCode ${number}`);
    t.equal(errorCodeOfResult(number), name);
  }
  t.throws(() => errorCodeOfResult(999), /result result#999 has no error code/);
});

t.test('every token code is in the catalogue and answered 401 or 403', async (t) => {
  for (const code of Object.values(TokenErrorCode)) {
    t.ok(isErrorCode(code), code);
    t.ok([401, 403].includes(httpStatusOf(code)), `${code} is ${httpStatusOf(code)}`);
  }
});

t.test('entries are self-consistent', async (t) => {
  const closeCodes = new Set<number>(Object.values(WsCloseCode));
  const closeCodesUsed = new Set<number>();
  for (const [code, spec] of entries) {
    if (spec.kind === 'business') {
      t.match(code, /^[a-z][A-Za-z]+$/, `${code}: business codes keep the ResultCode name`);
      t.equal(spec.ws, 'open', `${code}: a business answer never closes a socket`);
    } else {
      t.match(code, /^[A-Z][A-Z0-9_]+$/, `${code}: edge codes are UPPER_SNAKE`);
      t.equal(spec.resultCode, null);
    }
    if (spec.httpStatus !== null) {
      t.ok(
        spec.httpStatus >= 400 && STATUS_CODES[spec.httpStatus] !== undefined,
        `${code}: HTTP ${spec.httpStatus}`,
      );
    }
    if (typeof spec.ws === 'number') {
      t.ok(closeCodes.has(spec.ws), `${code}: close code ${spec.ws} is one of WsCloseCode`);
      closeCodesUsed.add(spec.ws);
    }
    if (spec.retryAfterMs) t.ok(spec.retriable, `${code}: a retryAfterMs only makes sense when retriable`);
    // One sentence, and nothing that would break the markdown table.
    t.match(spec.meaning, /^[A-Z][^|\n]*\.$/, `${code}: the meaning is one sentence`);
    t.notOk(/\. [A-Z]/.test(spec.meaning), `${code}: the meaning is one sentence, not two`);
  }
  for (const closeCode of closeCodes) {
    t.ok(closeCode >= 4000 && closeCode <= 4999, `${closeCode} is in the application range`);
    t.ok(closeCodesUsed.has(closeCode), `close code ${closeCode} is used by a code`);
  }
});

t.test('accessors', async (t) => {
  t.equal(httpStatusOf('soldOut'), 409);
  t.equal(httpStatusOf('RATE_LIMITED'), 429);
  t.equal(closeCodeOf('RATE_LIMITED'), null, 'answered, connection stays open');
  t.equal(closeCodeOf('TOKEN_BAD_SIGNATURE'), 4001);
  t.equal(closeCodeOf('SLOW_READER'), 4010);
  t.equal(isRetriable('BUSY'), true);
  t.equal(isRetriable('priceChanged'), false);
  t.throws(() => errorSpec('NO_SUCH_CODE'), {
    message: "error code 'NO_SUCH_CODE' is not in the edge error catalogue",
  });
  t.throws(() => httpStatusOf('SLOW_READER'), {
    message: "error code 'SLOW_READER' is never answered over HTTP",
  });
  t.throws(() => closeCodeOf('BAD_REQUEST'), {
    message: "error code 'BAD_REQUEST' is never answered on a WebSocket",
  });
  t.ok(Object.isFrozen(errorCatalogue));
});

t.test('docs/errors.md lists every code with the same columns', async (t) => {
  const { header, rows } = tableRows(readFileSync(docsPath, 'utf8'), 'code');
  t.strictSame(header, columns, 'the catalogue table has the expected columns');
  const documented = new Map<string, string[]>();
  for (const row of rows) {
    const code = row[0]!.replace(/^`|`$/g, '');
    if (documented.has(code)) t.fail(`docs/errors.md lists ${code} twice`);
    documented.set(code, row);
  }
  let disagreements = 0;
  for (const [code, spec] of entries) {
    const expected = cellsOf(code, spec);
    const row = documented.get(code);
    if (row === undefined) {
      disagreements++;
      t.fail(`docs/errors.md is missing ${code}`);
      continue;
    }
    for (let column = 1; column < columns.length; column++) {
      if (row[column] !== expected[column]) {
        disagreements++;
        t.fail(
          `docs/errors.md, ${code}, column ${columns[column]}: '${row[column]}', catalogue: '${expected[column]}'`,
        );
      }
    }
  }
  for (const code of documented.keys()) {
    if (!isErrorCode(code)) {
      disagreements++;
      t.fail(`docs/errors.md lists ${code}, which is not in gateways/errors.ts`);
    }
  }
  if (disagreements > 0) {
    t.comment('The catalogue rows as docs/errors.md should have them (then run biome check --write docs):');
    for (const [code, spec] of entries) t.comment(`| ${cellsOf(code, spec).join(' | ')} |`);
  }
  t.equal(disagreements, 0);
});

t.test('docs/errors.md lists the WebSocket close codes', async (t) => {
  const { rows } = tableRows(readFileSync(docsPath, 'utf8'), 'close code');
  t.strictSame(rows.map((row) => Number(row[0])).sort(), Object.values(WsCloseCode).map(Number).sort());
});

/** The UPPER_SNAKE string literals among the arguments of the call that opens at `open` (a '(' index). */
function literalsInCall(source: string, open: number): string[] {
  let depth = 0;
  let end = open;
  for (let i = open; i < source.length; i++) {
    const char = source[i];
    if (char === "'" || char === '"' || char === '`') {
      const close = source.indexOf(char, i + 1);
      if (close < 0) break;
      i = close;
    } else if (char === '(') depth++;
    else if (char === ')' && --depth === 0) {
      end = i;
      break;
    }
  }
  return [...source.slice(open, end).matchAll(/'([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1]!);
}

t.test('every code the gateway sources answer with is in the catalogue', async (t) => {
  const files = readdirSync(gatewaysDir).filter(
    (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'errors.ts',
  );
  let found = 0;
  for (const file of files) {
    const source = readFileSync(`${gatewaysDir}/${file}`, 'utf8');
    const codes: string[] = [];
    // Calls that take a code: error(...), sendError(...), the accessors.
    for (const match of source.matchAll(
      /\b(?:error|sendError|closeCodeOf|httpStatusOf|errorSpec|isRetriable)\(/g,
    )) {
      codes.push(...literalsInCall(source, match.index + match[0].length - 1));
    }
    // Error answers written as object literals: { kind: 'error', ..., code: 'X' }.
    for (const match of source.matchAll(/\bcode:\s*'([A-Z][A-Z0-9_]+)'/g)) {
      const before = source.slice(Math.max(0, match.index - 300), match.index);
      const after = source.slice(match.index, match.index + 300);
      const object = before.slice(before.lastIndexOf('{')) + after.slice(0, after.indexOf('}'));
      if (object.includes("kind: 'error'")) codes.push(match[1]!);
    }
    for (const code of codes) {
      found++;
      if (!isErrorCode(code)) t.fail(`gateways/${file} answers ${code}, which is not in gateways/errors.ts`);
    }
  }
  t.comment(`${found} coded answers in ${files.length} gateway sources`);
  t.pass('scanned');
});
