/**
 * The folder rule of docs/architecture.md, checked on the import lines: engine/ (the pure core and its
 * shared-memory transport) and journal/ (the journals, readers, identity, snapshot bytes) do not import
 * each other, nor anything that assembles them (node/ holds the host that wires both); lib/ imports
 * nothing above it. A new import that breaks the rule fails here, naming the file and the import.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import t from 'tap';

const root = join(import.meta.dirname, '..');

/** The repository's folders each checked folder may import, besides itself (node: builtins and packages always). */
const allowed: Readonly<
  Record<string, { readonly code: readonly string[]; readonly tests: readonly string[] }>
> = {
  lib: { code: [], tests: [] },
  engine: { code: ['lib'], tests: ['proto'] }, // its tests check events against the codec
  journal: { code: ['lib'], tests: [] },
};

/** Relative specifiers of every static import, re-export and dynamic import() in a source. */
function relativeImports(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(
    /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm,
  )) {
    found.push(match[1] as string);
  }
  return found;
}

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(?:ts|mts)$/.test(name))
    .map((name) => join(dir, name));
}

/** Top folder of the repository a file is in ('' for a top-level file such as cli.ts). */
function topFolder(path: string): string {
  const parts = relative(root, path).split(sep);
  return parts.length > 1 ? (parts[0] as string) : '';
}

t.test('the import scan sees every kind of import line', async (t) => {
  const source = [
    "import { a } from '../journal/a.ts';",
    "import type { B } from './b.ts';",
    "export { c } from '../lib/c.ts';",
    "import '../proto/side-effect.ts';",
    "  const { d } = await import('../node/d.ts');",
    "import t from 'tap';",
  ].join('\n');
  t.same(relativeImports(source), [
    '../journal/a.ts',
    './b.ts',
    '../lib/c.ts',
    '../proto/side-effect.ts',
    '../node/d.ts',
  ]);
});

for (const [folder, rule] of Object.entries(allowed)) {
  t.test(`${folder}/ imports only ${[folder, ...rule.code].join(', ')}`, async (t) => {
    const breaches: string[] = [];
    const files = sourcesUnder(join(root, folder));
    t.ok(files.length > 0, `${folder}/ has sources`);
    for (const file of files) {
      const mayImport = new Set([
        folder,
        ...rule.code,
        ...(/\.test(?:-[a-z]+)?\.ts$/.test(file) ? rule.tests : []),
      ]);
      for (const specifier of relativeImports(readFileSync(file, 'utf8'))) {
        const target = topFolder(join(dirname(file), specifier));
        if (!mayImport.has(target)) breaches.push(`${relative(root, file)} imports ${specifier}`);
      }
    }
    t.same(breaches, [], `${folder}/ breaks the folder rule (docs/architecture.md)`);
  });
}
