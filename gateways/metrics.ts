/**
 * The gateway's counters, and their Prometheus text exposition next to the
 * node's gauges: ring depth, engine batch size, journal fsync latency,
 * answers by code, connections, place answers. Gauges are read at scrape
 * time from their owners; counters live here. The place→answer sliding
 * window feeds the live dashboard (dashboard-stats.ts).
 */
import type { ControlBlock } from '../engine/control-block.ts';
import { PlaceWindow } from './place-window.ts';
import { RateHistory } from './rate-history.ts';

/** The dashboard's window: p99 and rates cover the last 2 s, in 250 ms slots. */
export const placeWindowSlotMs = 250;
export const placeWindowSlotCount = 8;
/** The dashboard chart's history: the last two minutes, per second. */
export const rateHistorySlotMs = 1000;
export const rateHistorySlotCount = 120;

export class GatewayMetrics {
  readonly answersByCode = new Map<string, number>();
  /** Place→answer latency and rates over the last few seconds. */
  readonly places: PlaceWindow;
  /** Place answers and orders per second over the last two minutes (the dashboard's chart). */
  readonly history: RateHistory;
  placesAnswered = 0;
  ordersPlaced = 0;
  connectionsOpened = 0;
  connectionsClosed = 0;
  edgeSoldOut = 0;
  framesRejected = 0;
  busy = 0;
  pushesSent = 0;
  slowReadersClosed = 0;

  constructor(options: { placeWindowSlotMs?: number; nowMs?: number } = {}) {
    const nowMs = options.nowMs ?? performance.now();
    this.places = new PlaceWindow({
      slotMs: options.placeWindowSlotMs ?? placeWindowSlotMs,
      slotCount: placeWindowSlotCount,
      nowMs,
    });
    this.history = new RateHistory({ slotMs: rateHistorySlotMs, slotCount: rateHistorySlotCount, nowMs });
  }

  countAnswer(code: string): void {
    this.answersByCode.set(code, (this.answersByCode.get(code) ?? 0) + 1);
  }

  /** Place requests answered `latencyMs` after their frame arrived, `orders` of them with a new order. */
  countPlaces(places: number, orders: number, latencyMs: number, nowMs: number): void {
    this.placesAnswered += places;
    this.ordersPlaced += orders;
    this.places.record(latencyMs, places, orders, nowMs);
    this.history.record(places, orders, nowMs);
  }

  render(control: ControlBlock, gauges: Record<string, number>): string {
    const lines: string[] = [];
    const metric = (
      name: string,
      type: 'counter' | 'gauge',
      help: string,
      value: number,
      labels = '',
    ): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
    };
    metric(
      'stampede_engine_commands_total',
      'counter',
      'Commands applied by the engine.',
      control.commandCount,
    );
    metric(
      'stampede_engine_batches_total',
      'counter',
      'Engine batches (commands per batch = commands / batches).',
      control.engineBatchCount,
    );
    metric(
      'stampede_engine_last_seq',
      'gauge',
      'Sequence of the last event the engine emitted.',
      control.engineLastSeq,
    );
    metric('stampede_journal_durable_seq', 'gauge', 'Sequence the journal has fsynced.', control.durableSeq);
    metric(
      'stampede_journal_fsyncs_total',
      'counter',
      'Group commits (one write + one fdatasync each).',
      control.fsyncCount,
    );
    metric(
      'stampede_journal_records_total',
      'counter',
      'Events written to the journal.',
      control.journalRecordCount,
    );
    metric(
      'stampede_journal_fsync_seconds_total',
      'counter',
      'Time spent in commits.',
      control.fsyncMicrosTotal / 1e6,
    );
    metric('stampede_journal_fsync_seconds_max', 'gauge', 'Longest commit.', control.fsyncMicrosMax / 1e6);
    metric(
      'stampede_journal_failed',
      'gauge',
      '1 when the journal failed and the node stopped taking commands.',
      control.journalFailed ? 1 : 0,
    );
    metric(
      'stampede_notify_dropped_total',
      'counter',
      'Durable events the notify ring had no room for (the read model read them from the journal instead).',
      control.notifyDroppedCount,
    );
    for (const [name, value] of Object.entries(gauges))
      metric(`stampede_${name}`, 'gauge', name.replaceAll('_', ' '), value);
    metric(
      'stampede_ws_connections_opened_total',
      'counter',
      'WebSocket connections opened.',
      this.connectionsOpened,
    );
    metric(
      'stampede_ws_connections_closed_total',
      'counter',
      'WebSocket connections closed.',
      this.connectionsClosed,
    );
    metric(
      'stampede_edge_sold_out_total',
      'counter',
      'Orders answered soldOut at the edge without the engine.',
      this.edgeSoldOut,
    );
    metric(
      'stampede_frames_rejected_total',
      'counter',
      'Client frames refused: answered with a coded error, or failed by uWS before the gateway saw them (no answer).',
      this.framesRejected,
    );
    metric(
      'stampede_busy_total',
      'counter',
      'Commands refused with BUSY (ring or in-flight window full).',
      this.busy,
    );
    metric(
      'stampede_places_answered_total',
      'counter',
      'Place-order requests answered (in batches too), whatever the result.',
      this.placesAnswered,
    );
    metric(
      'stampede_orders_placed_total',
      'counter',
      'Place-order requests answered with a new order (result ok).',
      this.ordersPlaced,
    );
    metric('stampede_pushes_total', 'counter', 'Order updates pushed to clients.', this.pushesSent);
    metric(
      'stampede_slow_readers_closed_total',
      'counter',
      'Connections closed for not reading.',
      this.slowReadersClosed,
    );
    lines.push(
      '# HELP stampede_answers_total Answers sent, by code.',
      '# TYPE stampede_answers_total counter',
    );
    for (const [code, count] of this.answersByCode)
      lines.push(`stampede_answers_total{code="${code}"} ${count}`);
    return `${lines.join('\n')}\n`;
  }
}
