/**
 * `POST /v1/payments/webhook`: a real payment provider's notification of an
 * outcome. Authenticated by `stampede-signature: sha256=<hex HMAC-SHA256 of
 * the raw body with webhookSecret>` (compared in constant time), idempotent
 * on the provider's event id: the id travels into the engine as the payment's
 * reference and is journaled with the delivery, so a redelivered event gets
 * the first answer and no second effect, after a restart too. The engine
 * remembers the last paymentReferencesMax deliveries (engine/limits.ts); an
 * older redelivery is decided again by the order's state machine, which never
 * sells twice. Off (404) when no webhookSecret is set.
 *
 * Body: { "eventId": "evt_…", "orderId": 12, "outcome": "succeeded" | "declined", "amountMinor": 1999 }
 * eventId: 1..96 printable ASCII characters (what the engine's slot holds).
 * Outcomes drive the engine like the sandbox's: success -> checkout_success
 * (or exception_checkout when late or the amount differs), decline ->
 * error_checkout.
 */

import type { TemplatedApp } from 'uWebSockets.js';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { PaymentOutcome, resultName, statusName } from '../engine/codes.ts';
import { type EngineAnswer, type EngineCommands, JournalUnavailableError } from './engine-commands.ts';
import { sendError } from './http-api.ts';
import { parseBody, webhookBody } from './http-bodies.ts';
import { Reply, readBody } from './http-io.ts';

export const webhookPath = '/v1/payments/webhook';
export const signatureHeader = 'stampede-signature';

export interface WebhookOptions {
  secret: string | undefined;
  bodyBytesMax: number;
  /** What a BUSY answer tells the provider to wait before redelivering. */
  busyRetryAfterMs: number;
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
      const parsed = parseBody(body, webhookBody);
      if (!parsed.ok) return sendError(reply, options, 'BAD_REQUEST', parsed.message);
      const { eventId, orderId, amountMinor } = parsed.value;
      const outcome =
        parsed.value.outcome === 'succeeded' ? PaymentOutcome.succeeded : PaymentOutcome.declined;
      const pending = commands.submit({
        type: 'paymentResult',
        orderId,
        outcome,
        amountMinor,
        reference: eventId,
      });
      if (pending === null)
        return sendError(reply, options, 'BUSY', 'the engine is at capacity: redeliver later', {
          retryAfterMs: options.busyRetryAfterMs,
        });
      let answer: EngineAnswer;
      try {
        answer = await pending;
      } catch (error) {
        if (!(error instanceof JournalUnavailableError)) throw error;
        // Nothing is journaled: the provider redelivers, and the restarted node judges it.
        return sendError(reply, options, 'JOURNAL_UNAVAILABLE', 'the journal failed: redeliver later');
      }
      reply.json(200, { eventId, result: resultName(answer.result), status: statusName(answer.status) });
    })();
  });
}
