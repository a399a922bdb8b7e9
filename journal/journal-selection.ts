/**
 * Which journal a node writes, recovers from and replays: the file journal in its data directory (the
 * default) or a Kafka partition. A selection is plain data so it crosses into the journal and engine
 * threads as workerData; each thread turns it into a JournalBackend (journal-backend.ts) with
 * journalBackendFor.
 *
 * kafkajs is imported only when Kafka is selected: the file journal's threads never load it.
 */
import type { FileJournalOptions } from './file-journal.ts';
import { fileJournalBackend, type JournalBackend, journalDir } from './journal-backend.ts';
import type { KafkaJournalConfig } from './kafka-journal.ts';

export interface FileJournalSelection {
  kind: 'file';
  /**
   * FOR TESTS: run the journal thread's asynchronous loop (the one Kafka uses) over the file journal's
   * JournalWriter adapter instead of its synchronous loop, so that loop runs for real without a broker.
   */
  asyncLoop?: boolean;
  /**
   * FOR TESTS: the URL or path of a module whose `journalFs` export (a JournalFs) stands in for node:fs
   * under the journal thread's writer: fault injection in a real node (journal/testing/stalling-fs.ts).
   */
  fsModule?: string;
}

/** A Kafka journal: KafkaJournalConfig without its loggers (a function cannot cross threads; logs go to the host). */
export type KafkaJournalSelection = { kind: 'kafka' } & Omit<KafkaJournalConfig, 'log' | 'logCreator'>;

export type JournalSelection = FileJournalSelection | KafkaJournalSelection;

export const fileJournalSelection: Readonly<FileJournalSelection> = Object.freeze({ kind: 'file' });

/**
 * The file journal, as `stampede serve` selects it. FOR TESTS: TEST_JOURNAL_FS_MODULE names an fsModule,
 * so a test can fail the journal of a real node process (gateways/serve-journal-failure.test.ts).
 */
export function fileJournalSelectionFromEnv(env: NodeJS.ProcessEnv): FileJournalSelection {
  const fsModule = env.TEST_JOURNAL_FS_MODULE;
  return fsModule === undefined || fsModule === '' ? fileJournalSelection : { kind: 'file', fsModule };
}

/** For logs: the directory, or the brokers, topic and partition. */
export function describeJournalSelection(selection: JournalSelection, dataDir: string): string {
  if (selection.kind === 'file') return `file journal ${journalDir(dataDir)}`;
  return `kafka journal kafka://${selection.brokers.join(',')}/${selection.topic ?? 'stampede.journal'}/${selection.partition ?? 0}`;
}

/** File journal only: segment and batch sizes and the fs seam; `log` reaches both backends; Kafka only: kafkajs's own logger. */
export type JournalBackendOptions = Pick<
  FileJournalOptions,
  'segmentBytesMax' | 'batchBytesMax' | 'log' | 'fs'
> &
  Pick<KafkaJournalConfig, 'logCreator'>;

/** The backend a selection names, over the node's data directory for the file journal. */
export async function journalBackendFor(
  selection: JournalSelection,
  dataDir: string,
  options: JournalBackendOptions = {},
): Promise<JournalBackend> {
  if (selection.kind === 'file') return fileJournalBackend(journalDir(dataDir), options);
  const { kafkaJournalBackend } = await import('./kafka-journal.ts');
  const { kind: _kind, ...config } = selection;
  return kafkaJournalBackend({
    ...config,
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.logCreator === undefined ? {} : { logCreator: options.logCreator }),
  });
}
