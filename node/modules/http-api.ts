/**
 * The HTTP API (gateways/http-api.ts, described at /openapi.json): reads
 * from the read model (or Redis, with redis-reads), admin commands through
 * the engine, health, readiness, /metrics of the whole node, the dashboard.
 */
import { type AuthCheck, registerHttpApi } from '../../gateways/http-api.ts';
import { nodeLimits } from '../limits.ts';
import { defineModule } from '../module.ts';

export const httpApiModule = defineModule({
  name: 'http-api',
  summary: 'the HTTP API: reads, admin commands, /health, /ready, /metrics, /openapi.json',
  settings: ['verifyToken', 'httpStatusOf', 'httpBodyBytesMax', 'pageSizeMax', 'busyRetryAfterMs'],
  needs: ['engine', 'readModel', 'dashboard'],
  uses: ['redisReads'],
  gives: [],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  async start({ settings, need, optional, app, metricsText }) {
    const engine = need('engine');
    const { model, feed } = need('readModel');
    const { host } = engine;
    const authorize = (authorization: string, nowMs: number): AuthCheck => {
      const token = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
      const check = settings.verifyToken(token, nowMs);
      if (!check.ok) return check;
      return { ok: true, principal: { role: check.role, buyerId: check.buyerId } };
    };
    registerHttpApi(app, {
      model,
      catchUp: () => feed.caughtUp(),
      redisReads: optional('redisReads') ?? null,
      availability: host.availability,
      skusMax: engine.limits.skusMax,
      commands: engine.commands,
      authorize,
      httpStatusOf: settings.httpStatusOf,
      metricsText,
      dashboard: need('dashboard'),
      ready: () =>
        host.failed !== null
          ? { ready: false, reason: host.failed.message }
          : host.control.journalFailed
            ? { ready: false, reason: 'journal failed' }
            : { ready: true, reason: 'engine and journal running' },
      bodyBytesMax: settings.httpBodyBytesMax,
      busyRetryAfterMs: settings.busyRetryAfterMs,
      pageSizeMax: settings.pageSizeMax,
    });
    return { gives: {} };
  },
});
