/**
 * Starts a worker thread from a module next to the caller. From dist/ that
 * is the `.js` file; under tsx (tests, benchmarks, `npm run dev`) it is the
 * `.ts` file, and Node 20 does not carry tsx's loader hooks into workers, so
 * the worker boots through a tiny eval that registers tsx first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startWorker(
  callerUrl: string,
  relativeWithoutExtension: string,
  options: WorkerOptions,
): Worker {
  const typescript = callerUrl.endsWith('.ts');
  const moduleUrl = new URL(`${relativeWithoutExtension}${typescript ? '.ts' : '.js'}`, callerUrl);
  if (!typescript) return new Worker(moduleUrl, options);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
