/**
 * The `stampede` command as a newcomer meets it, as real processes: `--help` on every command and
 * subcommand prints its usage and the settings it reads (environment name, unit, default) from the one
 * configuration table; an unknown STAMPEDE_* variable stops any command with the closest known name; and
 * the table's STAMPEDE_* variables drive every command, not only `serve`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { commandsWithHelp } from './cli-help.ts';
import { configSettings } from './gateways/config.ts';
import { runCli } from './lib/run-cli.ts';
import { tempDataDir } from './lib/temp-data-dir.ts';
import { writeSaleJournal } from './projections/testing/sale-journal.ts';

/** Runs `stampede ARGS` with only `env` (plus PATH) as its environment. */
const stampede = (args: readonly string[], env: Record<string, string> = {}) =>
  runCli(args, { PATH: process.env.PATH ?? '', ...env });

/** Every setting's environment variable. */
function allEnvNames(): string[] {
  const names: string[] = [];
  const walk = (group: object): void => {
    for (const entry of Object.values(group)) {
      if ('env' in entry) names.push((entry as { env: string }).env);
      else walk(entry);
    }
  };
  walk(configSettings);
  return names;
}

/** The environment variables a command reads, as its help says; each must be a real setting. */
const settingsOf = {
  serve: allEnvNames(),
  replay: ['STAMPEDE_DATA_DIR', 'STAMPEDE_JOURNAL', 'STAMPEDE_KAFKA_BROKERS', 'STAMPEDE_ENGINE_SKUS_MAX'],
  prune: ['STAMPEDE_DATA_DIR'],
  project: ['STAMPEDE_DATA_DIR', 'STAMPEDE_MYSQL_URL', 'STAMPEDE_REDIS_URL', 'STAMPEDE_KAFKA_TOPIC'],
  reconcile: ['STAMPEDE_DATA_DIR', 'STAMPEDE_MYSQL_URL', 'STAMPEDE_REDIS_URL', 'STAMPEDE_JOURNAL'],
  token: ['STAMPEDE_DATA_DIR', 'STAMPEDE_TOKEN_SECRET'],
  'bench flash-sale': ['STAMPEDE_TOKEN_SECRET', 'STAMPEDE_REDIS_URL', 'STAMPEDE_MYSQL_URL'],
  bench: [],
  'bench engine': [],
  'bench projections': ['STAMPEDE_MYSQL_URL', 'STAMPEDE_REDIS_URL'],
} as const satisfies Record<string, readonly string[]>;

t.test('--help works for every command and subcommand, with the settings it reads', async (t) => {
  t.same([...commandsWithHelp].sort(), Object.keys(settingsOf).sort(), 'every command is checked here');
  for (const [name, envNames] of Object.entries(settingsOf)) {
    const run = await stampede([...name.split(' '), '--help']);
    t.equal(run.code, 0, `${name} --help exits 0 ${run.stderr}`);
    t.match(run.stdout, /Usage:/, `${name}: usage`);
    for (const env of envNames) t.ok(run.stdout.includes(env), `${name} --help lists ${env}`);
    t.match(run.stdout, envNames.length === 0 ? /Settings: none/ : /Settings it reads/, name);
  }
  const serve = await stampede(['serve', '-h']);
  t.match(serve.stdout, /STAMPEDE_ORDER_TTL_MS +orderTtlMs \(milliseconds\), default the data directory's/);
  t.match(serve.stdout, /STAMPEDE_HTTP_PORT +httpPort, default 8080/);
  t.match(serve.stdout, /STAMPEDE_DEMO_CATALOG +demoCatalog, default "auto"/);
  const both = await stampede(['serve', '--demo', '--no-demo']);
  t.equal(both.code, 2, '--demo with --no-demo is bad usage');
  t.match(both.stderr, /--demo and --no-demo contradict each other/);
  const unknown = await stampede(['nonsense', '--help']);
  t.equal(unknown.code, 2, 'an unknown command is bad usage');
});

t.test('an unknown STAMPEDE_* variable stops every command, naming the closest one', async (t) => {
  const dataDir = tempDataDir(t, 'cli');
  for (const args of [
    ['prune', '--data', dataDir],
    ['replay', '--data', dataDir],
    ['serve', '--port', '0'],
  ]) {
    const run = await stampede(args, { STAMPEDE_HTTPPORT: '1' });
    t.equal(run.code, 2, `${args[0]}: exit 2`);
    t.match(
      run.stderr,
      /unknown environment variable STAMPEDE_HTTPPORT \(did you mean STAMPEDE_HTTP_PORT\?\)/,
    );
  }
});

t.test('replay and prune read the table: STAMPEDE_DATA_DIR, STAMPEDE_JOURNAL, --config', async (t) => {
  const dataDir = tempDataDir(t, 'cli');
  const { lastSeq } = writeSaleJournal(dataDir, 1, 40);
  const replayed = await stampede(['replay', '--json'], { STAMPEDE_DATA_DIR: dataDir });
  t.equal(replayed.code, 0, replayed.stderr);
  t.match(JSON.parse(replayed.stdout || '{}'), { lastSeq });

  // The kafka journal needs its brokers, from the same settings serve reads (not KAFKA_BROKERS).
  const kafka = await stampede(['replay'], { STAMPEDE_DATA_DIR: dataDir, STAMPEDE_JOURNAL: 'kafka' });
  t.equal(kafka.code, 2);
  t.match(kafka.stderr, /journal kafka needs kafka.brokers \(STAMPEDE_KAFKA_BROKERS\)/);

  const file = join(dataDir, 'stampede.json');
  writeFileSync(file, JSON.stringify({ dataDir, httpPrt: 1 }));
  const typo = await stampede(['prune', '--config', file]);
  t.equal(typo.code, 2);
  t.match(typo.stderr, /unknown key 'httpPrt' \(did you mean 'httpPort'\?\)/);
  writeFileSync(file, JSON.stringify({ dataDir }));
  const pruned = await stampede(['prune', '--config', file]);
  t.equal(pruned.code, 0, pruned.stderr);
  t.match(pruned.stdout, /nothing to prune/);
});
