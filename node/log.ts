/**
 * The node's one logger, pino: JSON lines on stderr by default, readable
 * lines (pino-pretty) when stderr is a terminal, levels, and a child per
 * module so every line carries `module`. The libraries' own loggers are
 * routed into it: kafkajs through its logCreator (kafkaLogCreator); ioredis
 * and mysql2 have no logger to route, only error events, which the stores
 * already turn into coded errors and their own log lines.
 *
 * Volume: nothing here is called per command; modules log at start, stop,
 * state changes and failures only.
 *
 * Written synchronously (pino.destination sync): a line logged just before
 * the process exits (a failed start, a stop) is never lost, and there are
 * few lines.
 */
import type { logCreator as KafkaLogCreator, LogEntry } from 'kafkajs';
import kafkajs from 'kafkajs';
import { type DestinationStream, type Level, type Logger, pino } from 'pino';
import pinoPretty from 'pino-pretty';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];
export const logFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

export interface NodeLoggerOptions {
  level: LogLevel;
  /** auto: pretty when `destination` is stderr on a terminal, JSON otherwise. */
  format: LogFormat;
  /** Where lines go (default stderr); tests give a stream to read them back. */
  destination?: DestinationStream | undefined;
}

export function createNodeLogger(options: NodeLoggerOptions): Logger {
  const pretty =
    options.format === 'pretty' ||
    (options.format === 'auto' && options.destination === undefined && process.stderr.isTTY === true);
  const destination = pretty
    ? pinoPretty({
        destination: options.destination ?? 2,
        sync: true,
        ignore: 'pid,hostname,module',
        singleLine: true,
        messageFormat: '[{module}] {msg}',
      })
    : (options.destination ?? pino.destination({ dest: 2, sync: true }));
  return pino({ level: options.level, base: { pid: process.pid } }, destination);
}

/** A logger that writes nothing (tests that do not read the log). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The `(message) => void` the lower layers (engine host, journal, projectors) take, into `logger` at `level`. */
export function textLog(logger: Logger, level: Level = 'info'): (message: string) => void {
  return (message) => logger[level](message);
}

/**
 * A warning that can repeat on a busy path (one per refused command), bounded: the first is written,
 * then at most one per `intervalMs`, saying how many were held back since the last.
 */
export function boundedWarn(logger: Logger, intervalMs: number): (message: string) => void {
  let lastMs = Number.NEGATIVE_INFINITY;
  let heldBack = 0;
  return (message) => {
    const nowMs = performance.now();
    if (nowMs - lastMs < intervalMs) {
      heldBack++;
      return;
    }
    logger.warn({ heldBack }, heldBack === 0 ? message : `${message} (and ${heldBack} more like it)`);
    lastMs = nowMs;
    heldBack = 0;
  };
}

const { logLevel: kafkaLevel } = kafkajs;

/** kafkajs's levels as pino's (NOTHING: kafkajs never logs at it). */
const pinoLevelOfKafka: Readonly<Record<number, Level>> = {
  [kafkaLevel.ERROR]: 'error',
  [kafkaLevel.WARN]: 'warn',
  [kafkaLevel.INFO]: 'info',
  [kafkaLevel.DEBUG]: 'debug',
};

/** kafkajs's own log lines into `logger` (child `library: kafkajs`), each at its level, with its fields. */
export function kafkaLogCreator(logger: Logger): KafkaLogCreator {
  const log = logger.child({ library: 'kafkajs' });
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _timestamp, ...fields } = entry;
      // A level kafkajs may add later is logged as a warning rather than lost.
      log[pinoLevelOfKafka[level] ?? 'warn']({ namespace, ...fields }, message);
    };
}
