/**
 * One module per projection store (projections/stores.ts): a projector
 * reading the node's journal into that store. They only read: a store that is down, slow or
 * wrong never reaches the engine.
 *
 * With the engine in the node they read up to its durable cursor. Without
 * it (a projector node: `serve --modules journal,projection-redis`, beside
 * the one node that runs the engine) they read what the journal holds, as
 * `stampede project` does: on Kafka that is only what is acknowledged; on
 * the file journal a record may be read before its fsync returns
 * (projections/README.md "Reading the journal").
 */
import { startProjectors } from '../../projections/start-projectors.ts';
import type { ProjectionStoreKind } from '../../projections/store-kind.ts';
import { projectionStores } from '../../projections/stores.ts';
import { nodeLimits } from '../limits.ts';
import { textLog } from '../log.ts';
import { defineModule } from '../module.ts';

/** The module of one store (projections/stores.ts): `projection-<name>`, on when the settings configure it. */
function projectionModule(kind: ProjectionStoreKind) {
  return defineModule({
    name: `projection-${kind.name}`,
    summary: kind.summary,
    settings: ['dataDir', 'projections'],
    needs: ['journal'],
    uses: ['engine'],
    gives: [],
    messageKinds: [],
    stopMsMax: nodeLimits.quickStopMsMax,
    unconfigured: ({ projections }) => {
      const configured = kind.configure(projections ?? {});
      return typeof configured === 'string' ? configured : null;
    },
    async start({ settings, log, need, optional }) {
      const configured = kind.configure(settings.projections ?? {});
      if (typeof configured === 'string') throw new Error(`projection-${kind.name}: ${configured}`);
      const host = optional('engine')?.host;
      const journal = need('journal');
      const running = startProjectors({
        ...settings.projections,
        stores: [kind],
        dataDir: settings.dataDir,
        log: textLog(log),
        durableSeq: host === undefined ? undefined : () => host.control.durableSeq,
        openReader: () => journal.openReader(),
      });
      return { gives: {}, projectors: running.projectors, stop: () => running.stop() };
    },
  });
}

/** One module per projection store, in the list's order. */
export const projectionModules = projectionStores.map(projectionModule);
