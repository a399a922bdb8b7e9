/**
 * The node's former name, kept so that callers written against it keep
 * working: a node is now assembled from its module list (node/node.ts,
 * node/modules.ts; docs/architecture.md).
 */

export { StampedeNode as StampedeServer } from '../node/node.ts';
export type { NodeOptions as ServerOptions, ProjectionOptions } from '../node/node-options.ts';
