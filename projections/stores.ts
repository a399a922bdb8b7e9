/**
 * Every projection store, in the order their projectors start and their reconcilers open. A new store is
 * a folder beside mysql/ and redis/ with its ProjectionStore, its reconciler and its kind, plus one line
 * here: startProjectors, reconcile and the node's `projection-<name>` modules take it from this list.
 */
import { mysqlStoreKind } from './mysql/kind.ts';
import { redisStoreKind } from './redis/kind.ts';
import type { ProjectionStoreKind } from './store-kind.ts';

export const projectionStores: readonly ProjectionStoreKind[] = Object.freeze([
  mysqlStoreKind,
  redisStoreKind,
]);
