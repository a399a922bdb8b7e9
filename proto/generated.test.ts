/**
 * The checked-in generated code is exactly what `npm run proto:gen` makes from
 * the .proto files today, and it works where it is used: from plain Node (no
 * tsx, real ESM resolution) as well as from these tests.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { generate, generatedDir, generatedFiles, repoRoot } from './generate.ts';
import { stampede } from './generated/stampede.js';

const run = promisify(execFile);

t.test('generated code is up to date with the .proto files', async (t) => {
  const outDir = await mkdtemp(path.join(tmpdir(), 'stampede-proto-check-'));
  t.teardown(() => rm(outDir, { recursive: true, force: true }));
  await generate(outDir);
  const differing: string[] = [];
  const checkedInFiles = (await readdir(generatedDir)).sort();
  if (checkedInFiles.join() !== [...generatedFiles].sort().join()) {
    differing.push(`the file list (${checkedInFiles.join(', ')})`);
  }
  for (const file of generatedFiles) {
    const fresh = await readFile(path.join(outDir, file));
    const checkedIn = await readFile(path.join(generatedDir, file)).catch(() => null);
    if (checkedIn === null || !fresh.equals(checkedIn)) differing.push(`proto/generated/${file}`);
  }
  if (differing.length > 0) {
    t.fail(`generated code is stale: run npm run proto:gen (differs: ${differing.join('; ')})`);
  } else {
    t.pass('proto/generated/ is byte for byte what proto:gen makes from the .proto files');
  }
});

t.test('the generated module loads under plain Node ESM and decodes 64-bit fields as numbers', async (t) => {
  const script = `
    import { stampede } from './proto/generated/stampede.js';
    const Command = stampede.v1.Command;
    const bytes = Command.encode({ cancelOrder: { buyerId: 7, requestId: 2 ** 40 + 1, orderId: 9 } }).finish();
    const decoded = Command.decode(bytes).cancelOrder;
    console.log(JSON.stringify({ requestId: decoded.requestId, type: typeof decoded.requestId, seq: typeof new stampede.v1.Event().seq }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', script], {
    cwd: repoRoot,
    // Plain node: none of the tsx loader that tap passes to its test processes.
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  t.same(JSON.parse(stdout), { requestId: 2 ** 40 + 1, type: 'number', seq: 'number' });
});

t.test('under tsx too, int64 fields decode to numbers, not Long objects', async (t) => {
  const bytes = stampede.v1.Event.encode({ seq: 2 ** 52, orderForgotten: { orderId: 12 } }).finish();
  const event = stampede.v1.Event.decode(bytes);
  t.equal(event.seq, 2 ** 52);
  t.equal(typeof event.orderForgotten?.orderId, 'number');
});
