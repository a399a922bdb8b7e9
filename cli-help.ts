/**
 * `stampede <command> --help`: each command's usage and flags, then the settings it reads, generated from
 * the configuration table (gateways/config.ts) with their environment variables, units and defaults, so the
 * help cannot drift from what the command actually reads.
 */
import { configEnvironmentHelp } from './gateways/config.ts';
import { tokenCommandUsage } from './gateways/token-command.ts';

/** A command's usage, what it does and its flags: here, or (`text`) kept beside the command's own parsing. */
type Usage =
  | {
      /** Usage lines, without the leading "stampede "; one starting with a space continues the one before. */
      usage: readonly string[];
      what: string;
      /** [flag, what it does]; a flag that sets a setting names it. */
      flags: readonly (readonly [string, string])[];
    }
  | { text: string };

type CommandHelp = Usage & {
  /** Setting paths the command reads (a group's path covers the group): 'all', or [] for none. */
  settings: 'all' | readonly string[];
  exitCodes: string;
};

const configFlag = [
  '--config FILE',
  'a JSON file of settings (also STAMPEDE_CONFIG), under the environment',
] as const;
const dataFlag = ['--data DIR', 'the data directory (dataDir)'] as const;
const journalFlag = ['--journal file|kafka', 'the journal to read (journal; kafka reads kafka.*)'] as const;
const journalSettings = ['dataDir', 'journal', 'kafka'] as const;
const usageExit = '0 ok, 2 bad usage or configuration';

const commands: Readonly<Record<string, CommandHelp>> = {
  serve: {
    usage: ['serve [--data DIR] [--port N] [--host H] [--config FILE] [--demo|--no-demo]'],
    what: 'Runs a node: engine, journal, checkout WebSocket (/v1/checkout), HTTP API, payments, projections.\nSIGINT/SIGTERM stop it gracefully (answer what is in flight, fsync, snapshot).',
    flags: [
      dataFlag,
      ['--port N', 'TCP port of the HTTP API and WebSocket (httpPort); 0 takes a free one'],
      ['--host H', 'address to listen on (host)'],
      ['--demo', 'load the demo catalog into any engine without products (demoCatalog true)'],
      ['--no-demo', 'no demo catalog, not even in a fresh data directory (demoCatalog false)'],
      configFlag,
    ],
    settings: 'all',
    exitCodes: '0 stopped cleanly, 1 failed at run time, 2 bad usage or configuration',
  },
  replay: {
    usage: [
      'replay [--data DIR] [--journal file|kafka] [--config FILE] [--from-scratch] [--json]',
      'replay --events [--from SEQ] [--data DIR] [--journal file|kafka] [--config FILE]',
    ],
    what: 'Rebuilds the state from the newest snapshot + journal, checks the invariants, prints a summary and\nthe state hash; --events prints the journal as protobuf JSON, one event a line.',
    flags: [
      dataFlag,
      journalFlag,
      ['--from-scratch', 'ignore snapshots: replay the whole journal'],
      ['--json', 'the summary as JSON'],
      ['--events', 'print events instead of replaying'],
      ['--from SEQ', 'with --events: the first sequence number (default 1)'],
      configFlag,
    ],
    settings: [...journalSettings, 'orderTtlMs', 'engine'],
    exitCodes: '0 ok, 1 an invariant is violated, 2 bad usage or configuration',
  },
  prune: {
    usage: ['prune [--data DIR] [--config FILE]'],
    what: "Deletes the journal segments the newest snapshot covers. Takes the data directory's lock, so it\nrefuses to run beside a live node.",
    flags: [dataFlag, configFlag],
    settings: ['dataDir'],
    exitCodes: usageExit,
  },
  project: {
    usage: [
      'project --store mysql|redis [--data DIR] [--journal file|kafka] [--mysql URL] [--redis URL]',
      '        [--redis-prefix P] [--name NAME] [--config FILE] [--once [--retries N]]',
      'project --store mysql --migrate [--mysql URL]',
    ],
    what: "Projects the journal into MySQL or Redis until stopped (SIGINT/SIGTERM), or with --once up to the\njournal's end now. Without mysqlUrl / redisUrl configured: mysql://root@127.0.0.1:3306/test,\nredis://127.0.0.1:6379. projections/README.md.",
    flags: [
      ['--store mysql|redis', 'the store to project into (required)'],
      dataFlag,
      journalFlag,
      ['--mysql URL', 'the MySQL store (mysqlUrl)'],
      ['--redis URL', 'the Redis store (redisUrl)'],
      ['--redis-prefix P', "the Redis keys' prefix (default stampede:)"],
      ['--name NAME', "the projector's checkpoint name (default stampede)"],
      ['--once', "catch up to the journal's end, then exit"],
      ['--retries N', 'with --once: give up on a store that is down after N retries in a row (default 5)'],
      ['--migrate', 'apply the MySQL schema migrations, then exit'],
      configFlag,
    ],
    settings: [...journalSettings, 'mysqlUrl', 'redisUrl'],
    exitCodes:
      '0 ok, 1 the projector halted or --once gave up on a store that is down, 2 bad usage or configuration',
  },
  reconcile: {
    usage: [
      'reconcile [--data DIR] [--journal file|kafka] [--mysql URL] [--redis URL] [--redis-prefix P]',
      '          [--name NAME] [--config FILE] [--json]',
    ],
    what: 'Compares the stores with the journal, each as of its checkpoint: the stores named by --mysql/--redis,\nelse every configured one (mysqlUrl, redisUrl).',
    flags: [
      dataFlag,
      journalFlag,
      ['--mysql URL', 'compare this MySQL store (mysqlUrl)'],
      ['--redis URL', 'compare this Redis store (redisUrl)'],
      ['--redis-prefix P', "the Redis keys' prefix (default stampede:)"],
      ['--name NAME', "the projector's checkpoint name (default stampede)"],
      ['--json', 'the report as JSON'],
      configFlag,
    ],
    settings: [...journalSettings, 'mysqlUrl', 'redisUrl'],
    exitCodes:
      '0 clean and current, 1 anomalies, 2 bad usage or configuration, 3 no anomalies but a store is behind\nthe journal or was never projected',
  },
  token: {
    text: tokenCommandUsage,
    settings: ['dataDir', 'tokenSecret'],
    exitCodes: usageExit,
  },
  bench: {
    usage: [
      'bench engine [--quick] [--json] [CASE...]',
      'bench flash-sale [options]',
      'bench projections [--quick] [--json] [mysql|redis]',
    ],
    what: "The benchmarks; `stampede bench SUITE --help` for each suite's flags and settings.",
    flags: [],
    settings: [],
    exitCodes: '0 ok, 1 a check failed, 2 bad usage',
  },
  'bench engine': {
    usage: ['bench engine [--quick] [--json] [CASE...]'],
    what: 'Engine benchmarks: engine.apply, ring.spsc, pipeline.durable, replay, memory.',
    flags: [
      ['--quick', 'shorter runs'],
      ['--json', 'results as JSON'],
    ],
    settings: [],
    exitCodes: usageExit,
  },
  'bench projections': {
    usage: ['bench projections [--quick] [--json] [--mysql URL] [--redis URL] [--config FILE] [mysql|redis]'],
    what: "A flash sale's journal projected into MySQL and Redis (fresh databases and key prefixes), reconciled.",
    flags: [
      ['--quick', 'a smaller sale'],
      ['--json', 'results as JSON'],
      [
        '--mysql URL',
        'the server to create a database on (mysqlUrl; unset: mysql://root@127.0.0.1:3306/test)',
      ],
      ['--redis URL', 'the Redis to use (redisUrl; unset: redis://127.0.0.1:6379)'],
      configFlag,
    ],
    settings: ['mysqlUrl', 'redisUrl'],
    exitCodes: '0 ok, 1 the projection did not reconcile, 2 bad usage',
  },
};

/** The settings part of a help text: those `paths` covers. */
export function settingsHelp(paths: 'all' | readonly string[]): string {
  if (paths.length === 0) return 'Settings: none.';
  return `Settings it reads (defaults < --config FILE < environment < flags):\n${configEnvironmentHelp(paths === 'all' ? undefined : paths)}`;
}

/** `stampede <name> --help` (name is 'serve', 'bench engine', ...), or undefined for an unknown command. */
export function commandHelp(name: string): string | undefined {
  const help = commands[name];
  if (help === undefined) return undefined;
  return [usageText(help), settingsHelp(help.settings), `Exit codes: ${help.exitCodes}.`].join('\n\n');
}

function usageText(help: Usage): string {
  if ('text' in help) return help.text;
  const flags = [...help.flags, ['--help', 'this text'] as const];
  const width = Math.max(...flags.map(([flag]) => flag.length)) + 2;
  return [
    `Usage:\n${help.usage.map((line) => `  ${line.startsWith(' ') ? ' '.repeat(9) : 'stampede '}${line}`).join('\n')}`,
    help.what,
    `Flags:\n${flags.map(([flag, doc]) => `  ${flag.padEnd(width)}${doc}`).join('\n')}`,
  ].join('\n\n');
}

/** Every command and subcommand with a --help (the test walks them). */
export const commandsWithHelp: readonly string[] = [...Object.keys(commands), 'bench flash-sale'];
