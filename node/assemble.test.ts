/**
 * The module assembly on its own: start in dependency order, stop in
 * reverse, a stop that overruns its bound is logged and the rest still
 * stop, a failed start stops what had started, and the coded refusals
 * (unknown name with the closest one, missing dependency, a module named
 * but not configured). The modules here are small real ones that record
 * what happens to them; node.test.ts runs the real list.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { chooseModules, startModules, stopModules } from './assemble.ts';
import { silentLogger } from './log.ts';
import { defineModule, type ListedModule, NodeAssemblyError } from './module.ts';
import { nodeModules } from './modules.ts';
import type { NodeOptions } from './node-options.ts';

/** Only `demoCatalog` and `projections` are read by the modules of these tests. */
const options = { demoCatalog: false, projections: undefined } as unknown as NodeOptions;

function recorder() {
  const events: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  const log = pino({ level: 'debug' }, stream);
  return { events, lines, log };
}

/** A module that records its start and stop; gives `engine` or `readModel` as a token value when asked. */
function step(
  name: string,
  events: string[],
  shape: Partial<Pick<ListedModule, 'needs' | 'gives' | 'uses' | 'stopMsMax'>> & {
    stop?: () => Promise<void>;
    failStart?: boolean;
  },
): ListedModule {
  return defineModule({
    name,
    summary: name,
    settings: [],
    needs: shape.needs ?? [],
    uses: shape.uses ?? [],
    gives: shape.gives ?? [],
    messageKinds: [],
    stopMsMax: shape.stopMsMax ?? 1_000,
    async start() {
      events.push(`start ${name}`);
      if (shape.failStart === true) throw new Error(`${name} cannot start`);
      const gives = Object.fromEntries((shape.gives ?? []).map((capability) => [capability, { from: name }]));
      return {
        gives: gives as never,
        stop: async () => {
          events.push(`stop ${name}`);
          await shape.stop?.();
        },
      };
    },
  });
}

const shared = (log = silentLogger()) => ({
  options,
  log,
  metrics: {} as never,
  metricsText: () => '',
  appFor: () => ({}) as never,
});

t.test('modules start after what they need, whatever the list order, and stop in reverse', async (t) => {
  const { events } = recorder();
  const list = [
    step('checkout', events, { needs: ['engine', 'readModel'] }),
    step('read-model', events, { needs: ['engine'], gives: ['readModel'] }),
    step('dashboard', events, { uses: ['checkout'], needs: ['readModel'] }),
    step('engine', events, { gives: ['engine'] }),
  ];
  const { ordered } = chooseModules(list, undefined, options);
  t.same(
    ordered.map((m) => m.name),
    ['engine', 'read-model', 'checkout', 'dashboard'],
  );
  const assembly = await startModules(ordered, shared());
  t.same(assembly.provided.engine, { from: 'engine' }, 'what a module gives reaches the ones after it');
  await stopModules(assembly.running);
  t.same(events, [
    'start engine',
    'start read-model',
    'start checkout',
    'start dashboard',
    'stop dashboard',
    'stop checkout',
    'stop read-model',
    'stop engine',
  ]);
});

t.test('a stop that overruns its bound is logged as a warning, and the others still stop', async (t) => {
  const { events, lines, log } = recorder();
  let finishLate: () => void = () => {};
  const list = [
    step('engine', events, { gives: ['engine'] }),
    step('slow', events, {
      needs: ['engine'],
      stopMsMax: 50,
      stop: () => new Promise<void>((resolve) => (finishLate = resolve)),
    }),
    step('last', events, { needs: ['engine'] }),
  ];
  const assembly = await startModules(chooseModules(list, undefined, options).ordered, shared(log));
  await stopModules(assembly.running);
  t.same(events.slice(3), ['stop last', 'stop slow', 'stop engine'], 'engine stopped after slow overran');
  const warning = lines.find((line) => line.level === 40);
  t.equal(warning?.module, 'slow', 'the warning names the module');
  t.match(warning?.msg, /overran its bound of 50 ms/);
  finishLate();
  await new Promise((resolve) => setTimeout(resolve, 10));
  t.ok(
    lines.some((line) => line.module === 'slow' && line.msg === 'stop finished late'),
    'and says so when it finishes',
  );
});

t.test('a failed start stops the modules already started, in reverse, and rethrows', async (t) => {
  const { events } = recorder();
  const list = [
    step('engine', events, { gives: ['engine'] }),
    step('read-model', events, { needs: ['engine'], gives: ['readModel'] }),
    step('checkout', events, { needs: ['readModel'], failStart: true }),
  ];
  await t.rejects(startModules(chooseModules(list, undefined, options).ordered, shared()), {
    message: 'checkout cannot start',
  });
  t.same(events, ['start engine', 'start read-model', 'start checkout', 'stop read-model', 'stop engine']);
});

t.test('an unknown module name is refused with the closest one', async (t) => {
  t.throws(() => chooseModules(nodeModules, ['engine', 'chekout'], options), {
    code: 'MODULE_UNKNOWN',
    message: /unknown module 'chekout' \(did you mean 'checkout'\?\); the modules are journal, engine, /,
  });
  const error = t.throws(() => chooseModules(nodeModules, ['qqqqqqqq'], options));
  t.ok(error instanceof NodeAssemblyError);
  t.notMatch((error as Error).message, /did you mean/, 'no guess when nothing is close');
});

t.test('a module whose dependency is not in the node is refused, naming both', async (t) => {
  t.throws(() => chooseModules(nodeModules, ['journal', 'read-model'], options), {
    code: 'MODULE_DEPENDENCY_MISSING',
    message: 'module read-model needs engine (given by module engine, which is not in the node)',
  });
  t.throws(() => chooseModules(nodeModules, ['checkout'], options), {
    code: 'MODULE_DEPENDENCY_MISSING',
    message: /^module checkout needs engine/,
  });
});

t.test('a module its settings leave off: skipped in the default list, refused when named', async (t) => {
  const all = chooseModules(nodeModules, undefined, options);
  t.notOk(
    all.ordered.some((m) => m.name === 'projection-mysql' || m.name === 'demo-catalog'),
    'not configured: not started',
  );
  t.match(all.skipped, [{ name: 'projection-mysql', reason: /STAMPEDE_MYSQL_URL/ }]);
  t.throws(() => chooseModules(nodeModules, ['journal', 'engine', 'projection-mysql'], options), {
    code: 'MODULE_NOT_CONFIGURED',
    message: 'module projection-mysql cannot run: mysqlUrl is unset (STAMPEDE_MYSQL_URL)',
  });
});
