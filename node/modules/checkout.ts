/**
 * The checkout WebSocket (`/v1/checkout`, docs/websocket-protocol.md) and
 * the service behind it: edge rules (auth, ownership, rate limits, sold out
 * at the edge), commands into the inbound ring, answers once durable, and
 * pushes of order changes from the read model's feed.
 *
 * Its stop refuses new commands, waits (bounded) for the answers in flight
 * to go out, then closes every socket with SHUTTING_DOWN.
 */
import { CheckoutService } from '../../gateways/checkout-service.ts';
import { CheckoutSocket } from '../../gateways/checkout-socket.ts';
import { JournalStallWatch } from '../../gateways/journal-stall.ts';
import { clientFrameLimits } from '../../proto/client-codec.ts';
import { nodeLimits } from '../limits.ts';
import { type CheckoutParts, defineModule } from '../module.ts';

export const checkoutModule = defineModule({
  name: 'checkout',
  summary: 'the checkout WebSocket /v1/checkout and its service',
  settings: [
    'verifyToken',
    'buyerLimiter',
    'ipLimiter',
    'busyRetryAfterMs',
    'wsPayloadBytesMax',
    'wsBackpressureBytesMax',
    'wsIdleTimeoutSeconds',
    'connectionsMax',
    'closeCodeOf',
    'batchMessagesMax',
    'linesPerOrderMax',
  ],
  needs: ['engine', 'readModel', 'payments'],
  uses: [],
  gives: ['checkout'],
  messageKinds: ['authenticate', 'placeOrder', 'pay', 'cancel', 'subscribe', 'ping', 'batch'],
  stopMsMax: nodeLimits.answersInFlightWaitMsMax + nodeLimits.quickStopMsMax,
  async start({ settings, need, metrics, app }) {
    const engine = need('engine');
    const readModel = need('readModel');
    // No sold-out answer at the edge from reservations a stalled journal may never make durable.
    const journalStall = new JournalStallWatch(engine.host.control);
    const service = new CheckoutService({
      commands: engine.commands,
      model: readModel.model,
      availability: engine.host.availability,
      skusMax: engine.limits.skusMax,
      payments: need('payments'),
      metrics,
      verifyToken: settings.verifyToken,
      buyerLimiter: settings.buyerLimiter,
      ipLimiter: settings.ipLimiter,
      busyRetryAfterMs: settings.busyRetryAfterMs,
      catchUp: () => readModel.feed.caughtUp(),
      catchUpNow: () => readModel.feed.catchUpNow(),
      journalKeepsUp: (nowMs) => journalStall.keepsUp(nowMs),
    });
    readModel.listen(service);
    const socket = new CheckoutSocket(service, metrics, {
      payloadBytesMax: settings.wsPayloadBytesMax,
      backpressureBytesMax: settings.wsBackpressureBytesMax,
      idleTimeoutSeconds: settings.wsIdleTimeoutSeconds,
      connectionsMax: settings.connectionsMax,
      closeCodeOf: settings.closeCodeOf,
      frameLimits: clientFrameLimits({
        frameBytesMax: settings.wsPayloadBytesMax,
        batchMessagesMax: settings.batchMessagesMax,
        linesPerOrderMax: Math.min(settings.linesPerOrderMax, engine.limits.linesPerOrderMax),
      }),
    });
    socket.register(app);
    const checkout: CheckoutParts = { service, socket };
    return {
      gives: { checkout },
      gauges: () => ({
        ws_connections: socket.connectionCount,
        subscribed_orders: service.subscribedOrderCount,
      }),
      async stop() {
        socket.stopAccepting();
        // Answers in flight go out; then the sockets close with a coded reason.
        await engine.settled(Date.now() + nodeLimits.answersInFlightWaitMsMax);
        await new Promise((resolve) => setTimeout(resolve, nodeLimits.answersLeaveMs));
        socket.closeAll('SHUTTING_DOWN: the server is stopping');
      },
    };
  },
});
