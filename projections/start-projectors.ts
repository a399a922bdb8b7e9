/**
 * The projectors `stampede serve` runs next to the engine: one per configured store (stores.ts: MySQL when
 * mysqlUrl is given, Redis when redisUrl is), each reading the node's journal in the same process. They only read:
 * a store that is down, slow or wrong never reaches the engine, whose answers wait for the journal alone.
 *
 * The node's projection modules (node/modules/projections.ts) start them, one store each, with durableSeq
 * from the engine host when the node runs the engine; the node puts their metrics on /metrics.
 */
import type { JournalReader } from '../journal/journal-backend.ts';
import { FileJournalReader, journalDir } from '../journal/journal-backend.ts';
import type { ProjectionLimits } from './limits.ts';
import { type ProjectionStore, Projector, type ProjectorMetrics } from './projector.ts';
import type { ProjectionStoreKind, ProjectionStoreSettings } from './store-kind.ts';
import { projectionStores } from './stores.ts';

/** The settings name the stores to project into (each store in `stores` that they configure). */
export interface StartProjectorsOptions extends ProjectionStoreSettings {
  dataDir: string;
  /** The stores to run a projector for when configured (default: every store, stores.ts). */
  stores?: readonly ProjectionStoreKind[] | undefined;
  /** Checkpoint name in each store (default 'stampede'). */
  projector?: string | undefined;
  log: (message: string) => void;
  /**
   * The journal writer's durable seq (in `serve`: () => host.control.durableSeq): projectors then never
   * read past it. Without it they read what the journal files hold.
   */
  durableSeq?: (() => number) | undefined;
  /** A reader per projector other than the data directory's file journal (e.g. the Kafka journal's). */
  openReader?: (() => JournalReader) | undefined;
  limits?: Partial<ProjectionLimits> | undefined;
}

export interface RunningProjectors {
  /** Finishes each projector's batch in flight and closes its store. */
  stop(): Promise<void>;
  /** Per store name ('mysql', 'redis'): numbers only (projector.ts ProjectorMetrics). */
  metrics(): Record<string, ProjectorMetrics>;
  /** The same numbers in Prometheus text exposition, one gauge family per metric, labelled by store. */
  prometheusText(): string;
  readonly projectors: readonly Projector[];
}

export function startProjectors(options: StartProjectorsOptions): RunningProjectors {
  const openReader = options.openReader ?? (() => new FileJournalReader(journalDir(options.dataDir)));
  const limits = options.limits ?? {};
  const common = {
    log: options.log,
    limits,
    ...(options.projector === undefined ? {} : { projector: options.projector }),
  };
  const projectors: Projector[] = [];
  const readers: JournalReader[] = [];
  const add = (name: string, store: ProjectionStore): void => {
    const reader = openReader();
    readers.push(reader);
    const projector = new Projector({
      name,
      store,
      reader,
      limits,
      log: options.log,
      ...(options.durableSeq === undefined ? {} : { durableSeq: options.durableSeq }),
    });
    options.log(`projector ${name}: starting on ${store.location}`);
    projector.start();
    projectors.push(projector);
  };
  for (const kind of options.stores ?? projectionStores) {
    const configured = kind.configure(options);
    if (typeof configured !== 'string') add(kind.name, configured.openStore(common));
  }
  return {
    projectors,
    async stop() {
      await Promise.all(projectors.map((projector) => projector.stop()));
      await Promise.all(readers.map((reader) => reader.close()));
    },
    metrics() {
      return Object.fromEntries(projectors.map((projector) => [projector.name, projector.metrics()]));
    },
    prometheusText() {
      return prometheusText(projectors.map((projector) => [projector.name, projector.metrics()]));
    },
  };
}

/** What each exported metric means (projections/README.md "Metrics" has the long form). */
const metricHelp: Record<keyof ProjectorMetrics, string> = {
  state: 'Projector state: 0 starting, 1 catching up, 2 live, 3 halted, 4 stopped.',
  appliedSeq: "The store's checkpoint: last journal seq applied.",
  journalEndSeq: "The journal's durable end as last seen.",
  lagEvents: 'Events durable in the journal and not yet in the store.',
  lagMs: 'Age of the oldest event not yet in the store, in ms (0 when caught up).',
  eventsApplied: 'Events applied since start.',
  batchesApplied: 'Batches applied since start.',
  lastBatchEvents: "The last batch's size in events.",
  lastBatchMs: "The last batch's time in the store, in ms.",
  retries: 'Retriable store failures since start.',
  consecutiveFailures: 'Retriable store failures in a row now.',
};

export function prometheusText(byStore: readonly (readonly [string, ProjectorMetrics])[]): string {
  if (byStore.length === 0) return '';
  const lines: string[] = [];
  for (const key of Object.keys(metricHelp) as (keyof ProjectorMetrics)[]) {
    const name = `stampede_projector_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
    lines.push(`# HELP ${name} ${metricHelp[key]}`, `# TYPE ${name} gauge`);
    for (const [store, metrics] of byStore) lines.push(`${name}{store="${store}"} ${metrics[key]}`);
  }
  return `${lines.join('\n')}\n`;
}
