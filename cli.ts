#!/usr/bin/env node
/**
 * The `stampede` command. Subcommands:
 *   serve    run a node (engine + journal threads) with embedded defaults
 *   replay   rebuild state from snapshot + journal, verify, summarise
 *   prune    delete journal segments covered by the newest snapshot
 *   bench    run the benchmarks (bench engine, bench flash-sale, bench projections)
 */
import { parseArgs } from 'node:util';
import type { ConfigOverrides, GatewayConfig } from './gateways/config.ts';
import { errorText } from './lib/error-text.ts';

const usage = `stampede — flash-sale commerce engine

Usage:
  stampede serve  [--data DIR] [--port N] [--host H] [--config FILE] [--demo|--no-demo] [--modules a,b,c]
                                                     run a node: engine, journal, checkout WebSocket
                                                     (/v1/checkout) and HTTP API; a fresh data directory
                                                     gets a demo catalog (--no-demo: none);
                                                     --modules runs only those (docs/architecture.md)
  stampede replay [--data DIR] [--journal file|kafka] [--from-scratch] [--json]
                                                     rebuild state from snapshot + journal,
                                                     check invariants, print a summary and the state hash
  stampede replay --events [--from SEQ] [--data DIR] [--journal file|kafka]
                                                     print journal events as protobuf JSON, one a line
  stampede prune  [--data DIR]                       delete journal segments the newest snapshot covers
  stampede project --store mysql|redis [--data DIR] [--mysql URL] [--redis URL] [--once] [--migrate]
                                                     (--once: exit 1 if the store stays down)
                                                     project the journal into MySQL or Redis (projections/README.md)
  stampede reconcile [--data DIR] [--mysql URL] [--redis URL] [--json]
                                                     compare the stores with the journal; exit 1 on any
                                                     anomaly, 3 when a store is behind or never projected
  stampede token  --buyer ID | --service NAME | --admin [--ttl 24h] [--data DIR]
                                                     print a token signed with the node's secret
  stampede bench engine [--quick] [--json] [CASE...] engine benchmarks (engine.apply, ring.spsc,
                                                     pipeline.durable, replay, memory)
  stampede bench flash-sale [--buyers N] [--stock N] [--concurrency N | --open-loop --rate N]
                            [--compare] [--json] [--report FILE.html] [...]
                                                     a flash sale over WebSockets against Stampede and
                                                     (--compare) Redis+Lua and MySQL, audited; --help lists all
  stampede bench projections [--quick] [--json] [mysql|redis]
                                                     a flash sale's journal projected into MySQL and Redis, reconciled
  stampede --help
  stampede COMMAND --help                            a command's flags, and the settings it reads with
                                                     their environment variables, units and defaults

Configuration: every command reads one table of settings (gateways/config.ts): defaults < a JSON file
(--config FILE or STAMPEDE_CONFIG) < STAMPEDE_* environment variables < flags. An unknown STAMPEDE_*
variable is an error. \`stampede serve --help\` lists them all.
Exit codes: 0 ok, 1 a check failed (invariants, bench), 2 bad usage or configuration.`;

class UsageError extends Error {}

/** The configuration table with a command's --config, --data and other flags over it. */
async function configFrom(
  values: { config?: string | undefined; data?: string | undefined },
  overrides: ConfigOverrides = {},
) {
  const { loadConfig } = await import('./gateways/config.ts');
  return loadConfig({
    env: process.env,
    file: values.config,
    overrides: { dataDir: values.data, ...overrides },
  });
}

/** `stampede COMMAND --help`, `stampede bench SUITE --help`: the name its help is under. */
function helpName(command: string, rest: readonly string[]): string {
  const suite = rest.find((arg) => !arg.startsWith('-'));
  return command === 'bench' && suite !== undefined ? `bench ${suite}` : command;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
    return command === undefined ? 2 : 0;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    const name = helpName(command, rest);
    const { commandHelp, settingsHelp } = await import('./cli-help.ts');
    if (name === 'bench flash-sale') {
      // Its flags are listed beside their parsing; the settings are the table's.
      const { flashSaleUsage } = await import('./bench/flash-sale.ts');
      console.log(`${flashSaleUsage}\n\n${settingsHelp(['tokenSecret', 'redisUrl', 'mysqlUrl'])}`);
      return 0;
    }
    const help = commandHelp(name);
    if (help === undefined) throw new UsageError(`no help for '${name}': unknown command`);
    console.log(help);
    return 0;
  }
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({
        args: rest,
        options: {
          data: { type: 'string' },
          config: { type: 'string' },
          port: { type: 'string' },
          host: { type: 'string' },
          demo: { type: 'boolean' },
          'no-demo': { type: 'boolean' },
          modules: { type: 'string' },
        },
        strict: true,
      });
      const { serve } = await import('./gateways/serve.ts');
      if (values.port !== undefined && !/^\d{1,5}$/.test(values.port)) {
        throw new UsageError(`--port must be an integer from 0 to 65535, got '${values.port}'`);
      }
      const port = values.port === undefined ? undefined : Number(values.port);
      if (values.demo === true && values['no-demo'] === true) {
        throw new UsageError('--demo and --no-demo contradict each other: give one');
      }
      const demo = values.demo ?? (values['no-demo'] === true ? false : undefined);
      return serve({
        configFile: values.config,
        overrides: {
          ...(values.data === undefined ? {} : { dataDir: values.data }),
          ...(port === undefined ? {} : { httpPort: port }),
          ...(values.host === undefined ? {} : { host: values.host }),
          ...(demo === undefined ? {} : { demoCatalog: demo }),
        },
        modules: values.modules?.split(',').map((name) => name.trim()),
      });
    }
    case 'replay': {
      const { values } = parseArgs({
        args: rest,
        options: {
          data: { type: 'string' },
          config: { type: 'string' },
          journal: { type: 'string' },
          'from-scratch': { type: 'boolean' },
          json: { type: 'boolean' },
          events: { type: 'boolean' },
          from: { type: 'string' },
        },
        strict: true,
      });
      const fromSeq = Number(values.from ?? 1);
      if (!Number.isSafeInteger(fromSeq) || fromSeq < 1)
        throw new UsageError(`--from must be a sequence number >= 1, got '${values.from}'`);
      // loadConfig checks --journal like any value: one of file, kafka.
      const config = await configFrom(values, {
        journal: values.journal as GatewayConfig['journal'] | undefined,
      });
      const { dataDir } = config;
      const { engineLimitsOf, journalSelectionOf } = await import('./gateways/config.ts');
      const limits = engineLimitsOf(config);
      const { journalBackendFor } = await import('./journal/journal-selection.ts');
      const selection = journalSelectionOf(config, { createTopic: false });
      const reader = (await journalBackendFor(selection, dataDir)).openReader();
      try {
        const { formatReplaySummary, printEvents, replayDataDir } = await import(
          './node/host/replay-tool.ts'
        );
        if (values.events) {
          await printEvents(reader, fromSeq, (line) => process.stdout.write(`${line}\n`));
          return 0;
        }
        const tty = process.stderr.isTTY;
        const summary = await replayDataDir(dataDir, reader, {
          limits,
          fromScratch: values['from-scratch'] ?? false,
          ...(tty
            ? {
                progress: (done: number, total: number) =>
                  process.stderr.write(`\rreplaying ${done}/${total}`),
              }
            : {}),
        });
        if (tty) process.stderr.write('\r\x1b[K');
        console.log(values.json ? JSON.stringify(summary) : formatReplaySummary(summary));
        return summary.invariantViolations.length === 0 ? 0 : 1;
      } finally {
        await reader.close();
      }
    }
    case 'prune': {
      const { values } = parseArgs({
        args: rest,
        options: { data: { type: 'string' }, config: { type: 'string' } },
        strict: true,
      });
      const { dataDir } = await configFrom(values);
      const { pruneDataDir } = await import('./journal/prune.ts');
      const result = pruneDataDir(dataDir);
      console.log(
        result.removed.length === 0
          ? `nothing to prune (newest snapshot covers seq ${result.coveredSeq})`
          : `removed ${result.removed.length} segment(s) covered by the snapshot at seq ${result.coveredSeq}: ${result.removed.join(', ')}`,
      );
      return 0;
    }
    case 'project': {
      const { runProjectCommand } = await import('./projections/cli.ts');
      return runProjectCommand(rest);
    }
    case 'reconcile': {
      const { runReconcileCommand } = await import('./projections/cli.ts');
      return runReconcileCommand(rest);
    }
    case 'token': {
      const { runTokenCommand } = await import('./gateways/token-command.ts');
      return runTokenCommand(rest);
    }
    case 'bench': {
      if (rest[0] === 'flash-sale') {
        const { runFlashSaleCommand } = await import('./bench/flash-sale.ts');
        return runFlashSaleCommand(rest.slice(1));
      }
      if (rest[0] === 'projections') {
        const { runProjectionBench } = await import('./bench/projections.ts');
        return runProjectionBench(rest.slice(1));
      }
      const { positionals, values } = parseArgs({
        args: rest,
        options: { quick: { type: 'boolean' }, json: { type: 'boolean' } },
        allowPositionals: true,
        strict: true,
      });
      const [suite, ...cases] = positionals;
      if (suite !== 'engine')
        throw new UsageError(
          `unknown benchmark suite '${suite ?? ''}' (have: engine, flash-sale, projections)`,
        );
      const { runEngineBench } = await import('./bench/engine.ts');
      await runEngineBench({ cases, quick: values.quick ?? false, json: values.json ?? false });
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ) {
      console.error(`stampede: ${(error as Error).message}\n\n${usage}`);
      process.exitCode = 2;
      return;
    }
    const code = (error as { code?: unknown }).code;
    console.error(`stampede: ${errorText(error)}`);
    // Configuration that cannot work is a usage error (2); anything else failed at run time (1).
    const badConfiguration =
      code === 'CONFIG_INVALID' ||
      code === 'DATA_DIR_LIMITS_MISMATCH' ||
      code === 'DATA_DIR_CONFIG_INVALID' ||
      (typeof code === 'string' && code.startsWith('MODULE_')); // node/module.ts NodeAssemblyError
    process.exitCode = badConfiguration ? 2 : 1;
  },
);
