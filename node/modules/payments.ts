/**
 * Payments: the sandbox provider (answers each payment after a delay, by
 * the configured shares) and the real provider's signed webhook
 * (`POST /v1/payments/webhook`, off without webhookSecret). Both turn an
 * outcome into a paymentResult command; nobody waits for the sandbox's
 * answer: the order's change reaches its subscribers from the journal.
 */
import { EngineAnswerSink } from '../../gateways/engine-commands.ts';
import { SandboxPayments } from '../../gateways/payments-sandbox.ts';
import { registerPaymentsWebhook } from '../../gateways/payments-webhook.ts';
import { nodeLimits } from '../limits.ts';
import { boundedWarn } from '../log.ts';
import { defineModule } from '../module.ts';

/** For commands whose answer nobody waits for (payment results). */
const answerIgnored = new (class extends EngineAnswerSink {
  engineAnswered(): void {}
  engineUnavailable(): void {}
})();

export const paymentsModule = defineModule({
  name: 'payments',
  summary: 'the sandbox payment provider and the payment webhook',
  settings: ['payments', 'webhookSecret', 'httpBodyBytesMax', 'httpStatusOf', 'busyRetryAfterMs'],
  needs: ['engine'],
  uses: [],
  gives: ['payments'],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  async start({ settings, log, need, app }) {
    const { commands } = need('engine');
    const refused = boundedWarn(log, nodeLimits.repeatedWarningIntervalMs);
    const payments = new SandboxPayments(settings.payments, (orderId, outcome, amountMinor, reference) => {
      const input = {
        type: 'paymentResult',
        orderId,
        outcome: outcome === 'succeeded' ? 1 : 2,
        amountMinor,
        reference,
      } as const;
      // One a second at most: a busy engine may refuse many in a row.
      if (!commands.submitTo(input, Date.now(), answerIgnored, 0))
        refused(`payment result for order ${orderId} refused: engine busy (the order will time out)`);
    });
    registerPaymentsWebhook(app, commands, {
      secret: settings.webhookSecret,
      bodyBytesMax: settings.httpBodyBytesMax,
      busyRetryAfterMs: settings.busyRetryAfterMs,
      httpStatusOf: settings.httpStatusOf,
    });
    return {
      gives: { payments },
      stop: async () => payments.close(),
    };
  },
});
