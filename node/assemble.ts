/**
 * Assembles a node from its module list: picks the modules asked for
 * (`serve --modules`, default all), refuses an unknown name (with the
 * closest known one) or a module whose needs no chosen module gives, orders
 * them so each starts after every module it needs or uses, starts them one
 * at a time, and stops them in reverse, each stop bounded by the module's
 * stopMsMax: a stop that overruns is logged as a warning and the rest still
 * stop (the overrunning one keeps going in the background; nothing waits
 * for it).
 *
 * Runs on the main thread at start-up and shutdown only.
 */
import type { Logger } from 'pino';
import { closestKey } from '../gateways/config.ts';
import {
  type Capability,
  type ListedModule,
  type ModuleContext,
  NodeAssemblyError,
  type Provided,
  type StartedModule,
} from './module.ts';
import type { NodeOptions } from './node-options.ts';

/** A slice of the node's settings: the keys a module declared. */
export function settingsOf(module: ListedModule, options: NodeOptions): Pick<NodeOptions, keyof NodeOptions> {
  return Object.fromEntries(module.settings.map((key) => [key, options[key]])) as Pick<
    NodeOptions,
    keyof NodeOptions
  >;
}

export interface ChosenModules {
  /** Start order. */
  readonly ordered: readonly ListedModule[];
  /** Modules of the default list left out because their settings do not configure them, with why. */
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
}

/**
 * The modules of `list` named in `names` (all when undefined), in start
 * order. Throws NodeAssemblyError: MODULE_UNKNOWN, MODULE_NOT_CONFIGURED (a
 * module named explicitly that its settings leave off), MODULE_DEPENDENCY_MISSING,
 * MODULE_DUPLICATE (two modules of the node give one capability).
 */
export function chooseModules(
  list: readonly ListedModule[],
  names: readonly string[] | undefined,
  options: NodeOptions,
): ChosenModules {
  const byName = new Map(list.map((module) => [module.name, module]));
  if (byName.size !== list.length) throw new Error('two modules of the list share a name');
  const chosen: ListedModule[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const name of names ?? list.map((module) => module.name)) {
    const module = byName.get(name);
    if (module === undefined) {
      const known = [...byName.keys()];
      const guess = closestKey(name, known);
      throw new NodeAssemblyError(
        'MODULE_UNKNOWN',
        `unknown module '${name}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`}; the modules are ${known.join(', ')}`,
      );
    }
    if (chosen.includes(module)) continue;
    const reason = module.unconfigured?.(settingsOf(module, options)) ?? null;
    if (reason === null) chosen.push(module);
    else if (names === undefined) skipped.push({ name, reason });
    else throw new NodeAssemblyError('MODULE_NOT_CONFIGURED', `module ${name} cannot run: ${reason}`);
  }
  const giver = new Map<Capability, ListedModule>();
  for (const module of chosen) {
    for (const capability of module.gives) {
      const other = giver.get(capability);
      if (other !== undefined)
        throw new NodeAssemblyError(
          'MODULE_DUPLICATE',
          `modules ${other.name} and ${module.name} both give ${capability}: choose one`,
        );
      giver.set(capability, module);
    }
  }
  for (const module of chosen) {
    for (const capability of module.needs) {
      if (giver.has(capability)) continue;
      const from = list.filter((m) => m.gives.includes(capability));
      const why = from.map((m) => {
        const left = skipped.find((s) => s.name === m.name);
        return left === undefined
          ? `module ${m.name}, which is not in the node`
          : `module ${m.name}, which is not configured: ${left.reason}`;
      });
      throw new NodeAssemblyError(
        'MODULE_DEPENDENCY_MISSING',
        `module ${module.name} needs ${capability}${why.length === 0 ? '' : ` (given by ${why.join(', or ')})`}`,
      );
    }
  }
  // Depth-first, in list order: a module comes after everything it needs or uses; ties keep the list's order.
  const ordered: ListedModule[] = [];
  const visiting = new Set<ListedModule>();
  const visit = (module: ListedModule): void => {
    if (ordered.includes(module)) return;
    if (visiting.has(module)) throw new Error(`module ${module.name} depends on itself through others`);
    visiting.add(module);
    for (const capability of [...module.needs, ...module.uses]) {
      const dependency = giver.get(capability);
      if (dependency !== undefined && dependency !== module) visit(dependency);
    }
    visiting.delete(module);
    ordered.push(module);
  };
  for (const module of chosen) visit(module);
  return { ordered, skipped };
}

/** What every module's context shares (the node's app, metrics and logger). */
export type SharedContext = Pick<ModuleContext<never, never>, 'metrics' | 'metricsText'> & {
  readonly options: NodeOptions;
  readonly log: Logger;
  /** The node's app as one module sees it (its routes recorded under its name). */
  appFor(moduleName: string): ModuleContext<never, never>['app'];
};

export interface RunningModule {
  readonly module: ListedModule;
  readonly started: StartedModule<never>;
  readonly log: Logger;
}

export interface Assembly {
  readonly running: readonly RunningModule[];
  readonly provided: Partial<Provided>;
}

/** Starts `ordered` one by one; if one fails, stops those already started (in reverse) and rethrows. */
export async function startModules(
  ordered: readonly ListedModule[],
  shared: SharedContext,
): Promise<Assembly> {
  const provided: Partial<Provided> = {};
  const running: RunningModule[] = [];
  for (const module of ordered) {
    const log = shared.log.child({ module: module.name });
    const settings = settingsOf(module, shared.options);
    const context: ModuleContext<Capability, keyof NodeOptions> = {
      settings,
      log,
      app: shared.appFor(module.name),
      metrics: shared.metrics,
      metricsText: shared.metricsText,
      need: (capability) => {
        const value = provided[capability];
        if (value === undefined)
          throw new Error(`module ${module.name} needs ${capability}, which nothing gave`);
        return value;
      },
      optional: (capability) => provided[capability],
    };
    try {
      log.debug('starting');
      const started = await module.start(context);
      running.push({ module, started, log });
      for (const capability of module.gives) {
        const value = (started.gives as Partial<Provided>)[capability];
        if (value === undefined)
          throw new Error(`module ${module.name} declares ${capability} but did not give it`);
        Object.assign(provided, { [capability]: value });
      }
    } catch (error) {
      log.error({ err: error }, 'start failed; stopping the modules already started');
      await stopModules(running).catch(() => {}); // each failure is logged there; the start's error is the one to throw
      throw error;
    }
  }
  return { running, provided };
}

/**
 * Stops `running` in reverse start order, each bounded by its stopMsMax. A
 * stop that overruns is logged (warn) and left to finish on its own; one that
 * fails is logged (error). Every module is asked to stop; the first failure
 * is rethrown at the end.
 */
export async function stopModules(running: readonly RunningModule[]): Promise<void> {
  let firstFailure: { error: unknown } | null = null;
  for (const { module, started, log } of [...running].reverse()) {
    if (started.stop === undefined) continue;
    let timer: NodeJS.Timeout | undefined;
    const overran = new Promise<'overran'>((resolve) => {
      timer = setTimeout(() => resolve('overran'), module.stopMsMax);
    });
    const stopStartedMs = performance.now();
    const stopping = started.stop().then(
      () => 'stopped' as const,
      (error: unknown) => ({ error }),
    );
    const outcome = await Promise.race([stopping, overran]);
    clearTimeout(timer);
    if (outcome === 'overran') {
      log.warn(
        { stopMsMax: module.stopMsMax },
        `stop overran its bound of ${module.stopMsMax} ms; stopping the other modules without waiting for it`,
      );
      void stopping.then((late) => {
        if (late === 'stopped') log.info('stop finished late');
        else log.error({ err: late.error }, 'stop failed late');
      });
    } else if (outcome !== 'stopped') {
      log.error({ err: outcome.error }, 'stop failed');
      firstFailure ??= outcome;
    } else {
      log.debug({ stopMs: Math.round(performance.now() - stopStartedMs) }, 'stopped');
    }
  }
  if (firstFailure !== null) throw firstFailure.error;
}
