/**
 * A projection store as the rest of the node sees it: its name, when the settings leave it off, how to
 * open its ProjectionStore, and its reconciler. stores.ts lists them; startProjectors, reconcile and the
 * node's projection modules iterate over that list, so adding a store is a folder and one line there.
 */
import type { ProjectionLimits } from './limits.ts';
import type { ProjectionStore } from './projector.ts';
import type { ReconcileContext, StoreReconciler } from './reconcile-store.ts';

/** The settings the stores read (node/node-options.ts ProjectionOptions maps them from the config table). */
export interface ProjectionStoreSettings {
  mysqlUrl?: string | undefined;
  redisUrl?: string | undefined;
  /** Key prefix in Redis (default 'stampede:'). */
  redisPrefix?: string | undefined;
}

/** What every store is opened with. */
export interface ProjectionStoreCommon {
  log: (message: string) => void;
  limits: Partial<ProjectionLimits>;
  /** Checkpoint name (default 'stampede'). */
  projector?: string;
}

export interface ProjectionStoreKind {
  /** 'mysql': the projector's name, the label on /metrics, the module `projection-<name>`. */
  readonly name: string;
  /** One line for the node's module list. */
  readonly summary: string;
  /** The store these settings name, or why they leave it off ('mysqlUrl is unset (STAMPEDE_MYSQL_URL)'). */
  configure(settings: ProjectionStoreSettings): ConfiguredStore | string;
}

export interface ConfiguredStore {
  /** Its store, for a projector. */
  openStore(common: ProjectionStoreCommon): ProjectionStore;
  /** Its reconciler, as of the store's checkpoint. */
  openReconciler(context: ReconcileContext): Promise<StoreReconciler>;
}
