/**
 * `POST /v1/payments/webhook`: a real payment provider's notification of an
 * outcome. Authenticated by `stampede-signature: sha256=<hex HMAC-SHA256 of
 * the raw body with webhookSecret>` (compared in constant time), idempotent
 * on the provider's event id: a redelivered event gets the first answer and
 * sends nothing to the engine again. Off (404) when no webhookSecret is set.
 *
 * Body: { "eventId": "evt_…", "orderId": 12, "outcome": "succeeded" | "declined", "amountMinor": 1999 }
 * Outcomes drive the engine like the sandbox's: success -> checkout_success
 * (or exception_checkout when late or the amount differs), decline ->
 * error_checkout.
 */

import type { TemplatedApp } from 'uWebSockets.js';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { PaymentOutcome, resultName, statusName } from '../engine/codes.ts';
import { type EngineAnswer, type EngineCommands, JournalUnavailableError } from './engine-commands.ts';
import { sendError } from './http-api.ts';
import { Reply, readBody } from './http-io.ts';

export const webhookPath = '/v1/payments/webhook';
export const signatureHeader = 'stampede-signature';

export interface WebhookOptions {
  secret: string | undefined;
  bodyBytesMax: number;
  /** Event ids remembered for idempotency (oldest forgotten first). */
  eventIdsMax: number;
  httpStatusOf: (code: string) => number;
}

export function signWebhookBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function signatureMatches(secret: string, body: Buffer, header: string): boolean {
  const expected = Buffer.from(signWebhookBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function registerPaymentsWebhook(
  app: TemplatedApp,
  commands: EngineCommands,
  options: WebhookOptions,
): void {
  const answered = new Map<string, { status: number; body: unknown }>();
  app.post(webhookPath, (res, req) => {
    const reply = new Reply(res);
    const signature = req.getHeader(signatureHeader);
    void (async () => {
      const body = await readBody(reply, options.bodyBytesMax);
      if (body === null) return;
      if (options.secret === undefined)
        return sendError(reply, options, 'NOT_FOUND', 'the payments webhook is not configured');
      if (body === 'tooLarge')
        return sendError(reply, options, 'FRAME_TOO_LARGE', `body over ${options.bodyBytesMax} bytes`);
      if (!signatureMatches(options.secret, body, signature)) {
        return sendError(
          reply,
          options,
          'WEBHOOK_BAD_SIGNATURE',
          `missing or wrong ${signatureHeader} header`,
        );
      }
      let event: unknown;
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        return sendError(reply, options, 'BAD_REQUEST', 'body is not JSON');
      }
      const e = event as { eventId?: unknown; orderId?: unknown; outcome?: unknown; amountMinor?: unknown };
      const eventId =
        typeof e.eventId === 'string' && e.eventId.length >= 1 && e.eventId.length <= 200 ? e.eventId : null;
      const orderId =
        Number.isSafeInteger(e.orderId) && (e.orderId as number) >= 1 ? (e.orderId as number) : null;
      const outcome =
        e.outcome === 'succeeded'
          ? PaymentOutcome.succeeded
          : e.outcome === 'declined'
            ? PaymentOutcome.declined
            : null;
      const amountMinor =
        Number.isSafeInteger(e.amountMinor) && (e.amountMinor as number) >= 0
          ? (e.amountMinor as number)
          : null;
      if (eventId === null || orderId === null || outcome === null || amountMinor === null) {
        return sendError(
          reply,
          options,
          'BAD_REQUEST',
          'need eventId (string), orderId (integer >= 1), outcome (succeeded|declined), amountMinor (integer >= 0)',
        );
      }
      const previous = answered.get(eventId);
      if (previous !== undefined) return reply.json(previous.status, previous.body);
      const pending = commands.submit({ type: 'paymentResult', orderId, outcome, amountMinor });
      if (pending === null)
        return sendError(reply, options, 'BUSY', 'the engine is at capacity: redeliver later', {
          retryAfterMs: 50,
        });
      let answer: EngineAnswer;
      try {
        answer = await pending;
      } catch (error) {
        if (!(error instanceof JournalUnavailableError)) throw error;
        // Not remembered: the provider redelivers, and the restarted node judges it.
        return sendError(reply, options, 'JOURNAL_UNAVAILABLE', 'the journal failed: redeliver later');
      }
      const result = {
        status: 200,
        body: { eventId, result: resultName(answer.result), status: statusName(answer.status) },
      };
      if (answered.size >= options.eventIdsMax) answered.delete(answered.keys().next().value as string);
      answered.set(eventId, result);
      reply.json(result.status, result.body);
    })();
  });
}
