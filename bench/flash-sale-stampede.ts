/**
 * The Stampede side of `stampede bench flash-sale`: puts the sale's SKUs on
 * a node (its own child process, or --target), drives the buyers through
 * client worker threads over real WebSockets, then gathers what the audit
 * needs from the node itself:
 *
 *   1. catalog: addProduct + configureSale (limit 1 per buyer) over the admin
 *      API, for the sale's SKUs and a warm-up SKU after them
 *   2. load: one worker per --clients, each a contiguous buyer range and its
 *      share of the window (closed loop) or of the arrival rate (open loop);
 *      each first sells the warm-up SKU to its share of the warm-up buyers
 *      (unmeasured), then waits for the common start
 *   3. resources: CPU and peak RSS of the server process (and its threads)
 *      and of this process, sampled right before and after the load
 *   4. read API: each SKU's stock, and a seeded sample of buyers' orders
 *      against what those buyers were told
 *   5. journal (own node only): stop it (it reports its live state hash),
 *      replay the journal from scratch (hash, invariants, stock), and read
 *      the orders from the journal the way the read model does
 *
 * Runs on the bench's main thread.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { OrderStatus, statusName } from '../engine/codes.ts';
import { eventPayloadWordsMax } from '../engine/layout.ts';
import { journalSelectionOf, loadConfig } from '../gateways/config.ts';
import type { JournalReader } from '../journal/journal-backend.ts';
import {
  describeJournalSelection,
  fileJournalSelection,
  type JournalSelection,
  journalBackendFor,
} from '../journal/journal-selection.ts';
import { replayDataDir } from '../journal/replay-tool.ts';
import { startWorker } from '../lib/start-worker.ts';
import { issueToken } from '../lib/tokens.ts';
import { EmbeddedReadModel } from '../projections/embedded-read-model.ts';
import type { SaleOutcome, SkuStock } from './flash-sale-audit.ts';
import { BuyerPlan, type BuyerShares, buyerUnit, warmupStock } from './flash-sale-buyers.ts';
import {
  type ClientLoad,
  type ClientWorkerData,
  clientConnectMsMax,
  type FromClient,
} from './flash-sale-client.ts';
import { hotPriceMinor } from './flash-sale-commands.ts';
import type { JournalFigures, Resources, SystemRun } from './flash-sale-figures.ts';
import { peakRssBytes, processCpuSeconds, threadsCpuBetween, threadsCpuSeconds } from './flash-sale-proc.ts';
import {
  type MergedRecord,
  mergeRecords,
  Outcome,
  outcomeTotal,
  type RecordData,
} from './flash-sale-recorder.ts';
import { type ServerChild, serverChildLimits, startServerChild } from './flash-sale-server.ts';

export interface StampedeRunOptions {
  buyers: number;
  stock: number;
  skus: number;
  load: { model: 'closed'; concurrency: number } | { model: 'open'; ratePerSec: number };
  clients: number;
  /** Buyers of an unmeasured warm-up sale on its own SKU before the measured one (0: none). */
  warmupBuyers: number;
  shares: BuyerShares;
  seed: number;
  /** ws:// or http:// base of a running node; undefined starts one. */
  target: string | undefined;
  /** The target's configured tokenSecret (undefined: not configured, refused). */
  targetTokenSecret: string | undefined;
  /** The own node's journal (ownNodeJournal); undefined: what the environment configures for `serve`. */
  journal: 'file' | 'kafka' | undefined;
  runMsMax: number;
  /** The own node's order TTL: abandoned reservations return after it (ignored with --target). */
  orderTtlMs: number;
  /** --create-skus: a --target may get the sale's SKUs created in its store (refused before otherwise). */
  createSkus: boolean;
  progress: (placeAnswered: number, finalTotal: number) => void;
  warmupProgress: (placeAnswered: number, finalTotal: number) => void;
  /** What the run does or waits for next, one line each (every wait says its bound). */
  log: (line: string) => void;
}

export const stampedeRunLimits = Object.freeze({
  /** Messages per batch frame at most: the node's default commandsPerFrameMax. */
  batchMessagesMax: 256,
  /** Buyers whose orders are read back over the HTTP API and compared with their answers. */
  readApiSampleBuyers: 300,
  readApiConcurrency: 16,
  /** Server threads listed by CPU. */
  serverThreadsShown: 5,
  /** One HTTP request to the node, answer included, at most. */
  httpRequestMsMax: 10_000,
});

/** A --target the audit could not read: refused before the sale (exit 2), nothing created. */
export const targetNotAuditable = 'TARGET_NOT_AUDITABLE';

const limitPerBuyer = 1;
const mib = 2 ** 20;

/** What the bench's own node is configured with (environment of `stampede serve`). */
function ownNodeEnv(secret: string, shares: BuyerShares, orderTtlMs: number): Record<string, string> {
  const payAttempts = shares.pay + shares.decline;
  return {
    STAMPEDE_TOKEN_SECRET: secret,
    // Short, so buyers who walk away give their unit back during the run (the engine's timer wheel).
    STAMPEDE_ORDER_TTL_MS: String(orderTtlMs),
    // Every bench client comes from 127.0.0.1: the per-address limit would be the bottleneck measured.
    STAMPEDE_IP_REQUESTS_PER_SECOND: '1000000',
    STAMPEDE_IP_BURST: '1000000',
    // The sandbox provider accepts or declines every payment it is asked for, at the --pay : --decline ratio.
    STAMPEDE_PAYMENTS_SANDBOX_SUCCESS_RATE: String(payAttempts === 0 ? 1 : shares.pay / payAttempts),
    STAMPEDE_PAYMENTS_SANDBOX_DECLINE_RATE: String(payAttempts === 0 ? 0 : shares.decline / payAttempts),
  };
}

/**
 * The own node's journal: what `serve` would read from this environment (STAMPEDE_JOURNAL and
 * STAMPEDE_KAFKA_*), with --journal over it, and the selection the audit reads it back through. A Kafka
 * journal gets a fresh topic (`stampede.flash-sale.<runId>`): the node's data directory is fresh, and a
 * topic holding an earlier run's records would be another history.
 */
export function ownNodeJournal(
  env: NodeJS.ProcessEnv,
  journal: 'file' | 'kafka' | undefined,
  runId: string,
): { env: Record<string, string>; selection: JournalSelection } {
  const journalEnv: Record<string, string> = journal === undefined ? {} : { STAMPEDE_JOURNAL: journal };
  if (loadConfig({ env: { ...env, ...journalEnv } }).journal !== 'kafka')
    return { env: journalEnv, selection: fileJournalSelection };
  const kafkaEnv = { ...journalEnv, STAMPEDE_KAFKA_TOPIC: `stampede.flash-sale.${runId}` };
  const selection = journalSelectionOf(loadConfig({ env: { ...env, ...kafkaEnv } }));
  // A reading tool never creates the topic: the node did.
  return {
    env: kafkaEnv,
    selection: selection.kind === 'kafka' ? { ...selection, createTopic: false } : selection,
  };
}

interface JournalCounters {
  commits: number;
  records: number;
  commitSeconds: number;
  /** When they were read (performance.now()). */
  atMs: number;
}

/** The journal's figures between two readings of its counters. */
function journalBetween(before: JournalCounters, after: JournalCounters): JournalFigures {
  const commits = after.commits - before.commits;
  const commitSeconds = after.commitSeconds - before.commitSeconds;
  const rounded = (n: number, digits: number): number => Number(n.toFixed(digits));
  return {
    commits,
    recordsPerCommit: commits === 0 ? 0 : rounded((after.records - before.records) / commits, 1),
    commitMsMean: commits === 0 ? 0 : rounded((commitSeconds * 1000) / commits, 3),
    commitShare: rounded((commitSeconds * 1000) / (after.atMs - before.atMs), 3),
  };
}

class HttpNode {
  readonly base: string;
  private readonly adminToken: string;
  readonly serviceToken: string;

  constructor(base: string, secret: string) {
    this.base = base.replace(/\/$/, '');
    const nowMs = Date.now();
    const ttlMs = 24 * 3_600_000;
    this.adminToken = issueToken(secret, { role: 'admin', adminName: 'flash-sale-bench' }, { nowMs, ttlMs });
    this.serviceToken = issueToken(
      secret,
      { role: 'service', serviceName: 'flash-sale-bench' },
      { nowMs, ttlMs },
    );
  }

  /** One request, answer read whole, within httpRequestMsMax; a failure says which request and why. */
  private async request(
    method: string,
    path: string,
    init: RequestInit = {},
  ): Promise<{ status: number; text: string }> {
    const limitMs = stampedeRunLimits.httpRequestMsMax;
    try {
      const response = await fetch(`${this.base}${path}`, {
        ...init,
        method,
        signal: AbortSignal.timeout(limitMs),
      });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      throw new Error(
        `${method} ${this.base}${path}: ${timedOut ? `no answer within ${limitMs} ms` : `failed (${cause ?? String(error)})`}`,
      );
    }
  }

  async get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const { status, text } = await this.request('GET', path, {
      headers: { authorization: `Bearer ${this.serviceToken}` },
    });
    try {
      return { status, body: JSON.parse(text) as Record<string, unknown> };
    } catch {
      throw new Error(`GET ${this.base}${path}: HTTP ${status}, not JSON: ${text.slice(0, 200)}`);
    }
  }

  async admin(path: string, body: object): Promise<void> {
    const response = await this.request('POST', path, {
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status !== 200)
      throw new Error(`POST ${path} ${JSON.stringify(body)}: HTTP ${response.status} ${response.text}`);
  }

  /** The journal's commit counters from the node's Prometheus /metrics. */
  async journalCounters(): Promise<JournalCounters> {
    const response = await this.request('GET', '/metrics');
    const text = response.text;
    if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status} ${text}`);
    const counter = (name: string): number => {
      const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
      if (value === undefined) throw new Error(`GET /metrics: no ${name}`);
      return Number(value);
    };
    return {
      commits: counter('stampede_journal_fsyncs_total'),
      records: counter('stampede_journal_records_total'),
      commitSeconds: counter('stampede_journal_fsync_seconds_total'),
      atMs: performance.now(),
    };
  }

  /** The first SKU id after every product the node has (a --target may hold earlier runs' SKUs). */
  async freeSkuIdFirst(): Promise<number> {
    let after = 0;
    for (;;) {
      const { status, body } = await this.get(`/v1/products?after=${after}&limit=500`);
      if (status !== 200) throw new Error(`GET /v1/products: HTTP ${status} ${JSON.stringify(body)}`);
      const products = body.products as { skuId: number }[];
      for (const p of products) after = Math.max(after, p.skuId);
      if (body.nextCursor === null) return after + 1;
    }
  }
}

export async function runStampede(options: StampedeRunOptions): Promise<SystemRun> {
  const secret =
    options.target === undefined
      ? randomBytes(32).toString('base64url')
      : targetSecret(options.targetTokenSecret);
  const journal =
    options.target === undefined
      ? ownNodeJournal(process.env, options.journal, `${Date.now()}-${options.seed}`)
      : null;
  if (journal !== null)
    options.log(
      `starting its node (stampede serve on the ${journal.selection.kind} journal; at most ${serverChildLimits.startTimeoutMs / 1000} s)`,
    );
  const child =
    journal === null
      ? null
      : await startServerChild({ ...ownNodeEnv(secret, options.shares, options.orderTtlMs), ...journal.env });
  try {
    const httpBase = child === null ? httpBaseOf(options.target!) : `http://127.0.0.1:${child.port}`;
    const node = new HttpNode(httpBase, secret);
    if (child === null) {
      options.log(`checking that ${httpBase} can be audited`);
      await checkTargetAuditable(node, options);
    }
    const skuIdFirst = child === null ? await node.freeSkuIdFirst() : 1;
    // The sale's SKUs, then the warm-up's one, after them so the sale's ids do not depend on --warmup.
    const warmupSkuId = skuIdFirst + options.skus;
    const catalog = [
      ...Array.from({ length: options.skus }, (_, i) => ({ skuId: skuIdFirst + i, stock: options.stock })),
      ...(options.warmupBuyers > 0
        ? [{ skuId: warmupSkuId, stock: warmupStock(options.stock, options.buyers, options.warmupBuyers) }]
        : []),
    ];
    options.log(`creating ${catalog.length} SKU(s) from ${skuIdFirst}`);
    for (const { skuId, stock } of catalog) {
      await node.admin('/v1/admin/products', { skuId, priceMinor: hotPriceMinor, currency: 'USD', stock });
      await node.admin(`/v1/admin/products/${skuId}/sale`, { limitPerBuyer, startsAtMs: 0, endsAtMs: 0 });
    }
    const load = await driveLoad(
      options,
      `${httpBase.replace(/^http/, 'ws')}/v1/checkout`,
      node,
      { skuIdFirst, warmupSkuId },
      child,
    );
    // Our own node: let every abandoned reservation time out, so the audit sees their stock come back.
    if (child !== null) await untilNothingReserved(node, skuIdFirst, options);
    const skus = await readApiStock(node, skuIdFirst, options);
    options.log(`reading back a sample of the buyers' orders over the HTTP API`);
    const readApiCheck = await readApiSample(node, load.record, options, skuIdFirst);
    const audit =
      child === null || journal === null
        ? null
        : await journalAudit(child, journal.selection, options, skuIdFirst);
    const outcome: SaleOutcome = {
      system: 'stampede',
      buyers: options.buyers,
      limitPerBuyer,
      finalAnswerCounts: load.record.finalCounts,
      toldBySku: load.record.outcomesBySku,
      store: audit === null ? targetStore(skus, load.record.outcomesBySku) : audit.store,
      extraChecks: [
        ...load.clientErrors.map((detail) => ({ name: 'client', ok: false, detail })),
        readApiCheck,
        ...(audit === null ? [] : [...audit.checks, readApiAgreesWithJournal(skus, audit.store.skus)]),
      ],
    };
    const notes = [
      child === null
        ? `target ${options.target}: journal audit skipped (not our node to stop); reserved and releases taken from the buyers' answers`
        : '',
      journal?.selection.kind === 'kafka'
        ? `own node on the ${describeJournalSelection(journal.selection, child?.dataDir ?? '')}`
        : '',
      `${options.clients} client worker(s), ${load.framesSent.toLocaleString('en-US')} batch frames`,
      retriesNote(load.record.counters),
    ]
      .filter((n) => n !== '')
      .join('; ');
    return { record: load.record, outcome, resources: load.resources, notes };
  } finally {
    child?.dispose();
  }
}

/**
 * Before anything is created: a --target the audit can read is ready, takes the bench's tokens (signed
 * with STAMPEDE_TOKEN_SECRET) for the order reads, and exposes the journal's counters in /metrics. Anything
 * else is refused now, with the reason, rather than at the end of a sale that cannot be judged.
 */
async function checkTargetAuditable(
  node: HttpNode,
  options: Pick<StampedeRunOptions, 'createSkus'>,
): Promise<void> {
  const refuse = (reason: string): never => {
    throw Object.assign(new Error(`--target ${node.base} cannot be audited: ${reason}`), {
      code: targetNotAuditable,
    });
  };
  // Parse-time checks refuse this first; here too, so no caller can create SKUs in a live store unasked.
  if (!options.createSkus) refuse('the sale needs SKUs of its own, and --create-skus was not given');
  try {
    const ready = await node.get('/ready');
    if (ready.status !== 200) refuse(`it is not ready: ${JSON.stringify(ready.body)}`);
    const orders = await node.get('/v1/buyers/1/orders?limit=1');
    if (orders.status === 401 || orders.status === 403)
      refuse(
        `it refuses the bench's service token (HTTP ${orders.status}): STAMPEDE_TOKEN_SECRET must be the target's token secret`,
      );
    if (orders.status !== 200) refuse(`GET /v1/buyers/1/orders answers HTTP ${orders.status}`);
    await node.journalCounters();
  } catch (error) {
    if ((error as { code?: unknown }).code === targetNotAuditable) throw error;
    refuse(error instanceof Error ? error.message : String(error));
  }
}

function targetSecret(secret: string | undefined): string {
  if (secret === undefined)
    throw Object.assign(
      new Error(
        '--target needs tokenSecret (STAMPEDE_TOKEN_SECRET or --config FILE): the bench signs an admin token (catalog) and a service token',
      ),
      { code: 'CONFIG_INVALID' },
    );
  return secret;
}

function httpBaseOf(target: string): string {
  return target.replace(/^ws/, 'http').replace(/\/v1\/checkout\/?$/, '');
}

function retriesNote(counters: Record<string, number>): string {
  const retries = Object.entries(counters).filter(([k]) => k.startsWith('retry:'));
  return retries.length === 0 ? 'no retries' : retries.map(([k, v]) => `${k.slice(6)} ${v}`).join(', ');
}

async function driveLoad(
  options: StampedeRunOptions,
  url: string,
  node: HttpNode,
  skuIds: { skuIdFirst: number; warmupSkuId: number },
  child: ServerChild | null,
): Promise<{ record: MergedRecord; resources: Resources; framesSent: number; clientErrors: string[] }> {
  const clients = Math.min(options.clients, options.buyers);
  const placeRequestIdBase = 2 ** 31 * (1 + (options.seed % 255));
  const workers: Worker[] = [];
  const progress = new Map<number, { placeAnswered: number; finalTotal: number }>();
  const warmupProgress = new Map<number, { placeAnswered: number; finalTotal: number }>();
  const warmupAnswered: number[] = [];
  const results: Promise<{ record: RecordData; framesSent: number; error?: string }>[] = [];
  const ready: Promise<void>[] = [];
  /** Worker c's share of `total`: contiguous, sizes differing by at most one. */
  const share = (total: number, c: number): { first: number; count: number } => {
    const first = Math.floor((total * c) / clients);
    return { first, count: Math.floor((total * (c + 1)) / clients) - first };
  };
  const concurrency = options.load.model === 'closed' ? options.load.concurrency : 256;
  for (let c = 0; c < clients; c++) {
    const buyers = share(options.buyers, c);
    const warmupBuyers = share(options.warmupBuyers, c);
    const window: ClientLoad = { model: 'closed', windowMessages: Math.max(1, share(concurrency, c).count) };
    const data: ClientWorkerData = {
      flashSaleClient: true,
      url,
      token: node.serviceToken,
      priceMinor: hotPriceMinor,
      batchMessagesMax: frameMessagesMax(window.windowMessages),
      shares: options.shares,
      // Warm-up buyers are numbered after the sale's, on their own SKU: nothing the audit reads.
      warmup:
        warmupBuyers.count === 0
          ? null
          : {
              skuIdFirst: skuIds.warmupSkuId,
              skuCount: 1,
              buyerIdFirst: options.buyers + 1 + warmupBuyers.first,
              buyerCount: warmupBuyers.count,
              load: window,
              seed: options.seed ^ 0x5bd1e995,
              placeRequestIdBase,
            },
      sale: {
        skuIdFirst: skuIds.skuIdFirst,
        skuCount: options.skus,
        buyerIdFirst: 1 + buyers.first,
        buyerCount: buyers.count,
        load:
          options.load.model === 'closed'
            ? window
            : { model: 'open', ratePerSec: options.load.ratePerSec / clients },
        seed: options.seed,
        placeRequestIdBase,
      },
      runMsMax: options.runMsMax,
    };
    const worker = startWorker(import.meta.url, './flash-sale-client', { workerData: data });
    workers.push(worker);
    let readyResolve: () => void = () => {};
    ready.push(new Promise((resolve) => (readyResolve = resolve)));
    results.push(
      new Promise((resolve, reject) => {
        worker.on('message', (m: FromClient) => {
          if (m.type === 'ready') {
            warmupAnswered[c] = m.warmupPlaceAnswered;
            readyResolve();
          } else if (m.type === 'progress') {
            const phase = m.phase === 'sale' ? progress : warmupProgress;
            phase.set(c, m);
            let placeAnswered = 0;
            let finalTotal = 0;
            for (const p of phase.values()) {
              placeAnswered += p.placeAnswered;
              finalTotal += p.finalTotal;
            }
            (m.phase === 'sale' ? options.progress : options.warmupProgress)(placeAnswered, finalTotal);
          } else if (m.type === 'done') resolve(m);
          else reject(new Error(`client worker ${c} failed: ${m.error}`));
        });
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`client worker ${c} exited with code ${code}`)));
      }),
    );
  }
  const bound = `at most ${clientConnectMsMax / 1000} s to connect, ${options.runMsMax / 1000} s a sale`;
  options.log(
    options.warmupBuyers === 0
      ? `connecting ${clients} client worker(s) (${bound})`
      : `connecting ${clients} client worker(s) and warming up: ${options.warmupBuyers} buyers on SKU ${skuIds.warmupSkuId}, unmeasured (${bound})`,
  );
  const warmupStartedMs = performance.now();
  try {
    await Promise.race([Promise.all(ready), Promise.all(results)]);
    if (options.warmupBuyers > 0)
      options.log(
        `warm-up done: ${warmupAnswered.reduce((n, a) => n + a, 0)}/${options.warmupBuyers} answered in ${((performance.now() - warmupStartedMs) / 1000).toFixed(1)} s`,
      );
    options.log(
      `the sale: ${options.buyers} buyers on ${options.skus} SKU(s) (at most ${options.runMsMax / 1000} s)`,
    );
    const serverPid = child?.pid;
    // Read before the CPU readings and after them: the node's /metrics request is not the sale's CPU.
    const journalBefore = await node.journalCounters();
    const clientCpuBefore = processCpuSeconds(process.pid);
    const serverCpuBefore = serverPid === undefined ? null : processCpuSeconds(serverPid);
    const serverThreadsBefore = serverPid === undefined ? null : threadsCpuSeconds(serverPid);
    // A few ms ahead, so every worker starts its clock (and open-loop schedule) at the same moment.
    const startAtMs = performance.timeOrigin + performance.now() + 5;
    for (const w of workers) w.postMessage({ type: 'go', startAtMs });
    const done = await Promise.all(results);
    const clientCpuAfter = processCpuSeconds(process.pid);
    const serverCpuAfter = serverPid === undefined ? null : processCpuSeconds(serverPid);
    const serverThreadsAfter = serverPid === undefined ? null : threadsCpuSeconds(serverPid);
    const journalAfter = await node.journalCounters();
    const resources: Resources = {
      clientCpuSeconds: round2((clientCpuAfter ?? 0) - (clientCpuBefore ?? 0)),
      clientPeakRssMiB: Math.round((peakRssBytes(process.pid) ?? 0) / mib),
      serverCpuSeconds:
        serverPid === undefined ? null : round2((serverCpuAfter ?? 0) - (serverCpuBefore ?? 0)),
      serverThreadsCpuSeconds:
        serverPid === undefined || serverThreadsBefore === null || serverThreadsAfter === null
          ? null
          : threadsCpuBetween(
              serverPid,
              serverThreadsBefore,
              serverThreadsAfter,
              stampedeRunLimits.serverThreadsShown,
            ),
      serverPeakRssMiB: serverPid === undefined ? null : Math.round((peakRssBytes(serverPid) ?? 0) / mib),
      journal: journalBetween(journalBefore, journalAfter),
    };
    return {
      record: mergeRecords(done.map((d) => d.record)),
      resources,
      framesSent: done.reduce((n, d) => n + d.framesSent, 0),
      clientErrors: done.flatMap((d) => (d.error === undefined ? [] : [d.error])),
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * A client's frames hold half its window, so two are in flight: the client
 * records one frame's answers and refills while the node answers the other.
 * Measured, default sale, runs interleaved: 128 per frame 249-297k
 * attempts/s, one frame of 256 214-244k, 64 per frame 238-243k (and on
 * 2026-12-05, four or eight frames in flight: no better).
 */
function frameMessagesMax(windowMessages: number): number {
  return Math.min(stampedeRunLimits.batchMessagesMax, Math.ceil(windowMessages / 2));
}

/**
 * A node that is not ours: no journal to read, so the read API's sold and
 * available, and the buyers' word for the rest. A reservation a buyer was
 * told of and that is no longer held was released (declined, or timed out on
 * the node's order TTL during the run: the two cannot be told apart here).
 * So conservation and the per-buyer limit are not really checked (the notes
 * say so).
 */
function targetStore(skus: readonly SkuStock[], told: Int32Array): SaleOutcome['store'] {
  const withReserved = skus.map((s) => ({ ...s, reserved: s.initial - s.sold - s.available }));
  const ordersHolding = withReserved.reduce((n, s) => n + s.reserved, 0);
  const toldReservations = outcomeTotal(told, Outcome.holding) + outcomeTotal(told, Outcome.released);
  return {
    skus: withReserved,
    ordersSold: skus.reduce((n, s) => n + s.sold, 0),
    ordersHolding,
    ordersReleased: Math.max(0, toldReservations - ordersHolding),
    ordersPerBuyerMax: 0,
  };
}

/** Each SKU's stock as the read API reports it (reserved is filled in by the journal audit). */
async function readApiStock(
  node: HttpNode,
  skuIdFirst: number,
  options: StampedeRunOptions,
): Promise<SkuStock[]> {
  const skus: SkuStock[] = [];
  for (let i = 0; i < options.skus; i++) {
    const skuId = skuIdFirst + i;
    const { status, body } = await node.get(`/v1/products/${skuId}`);
    if (status !== 200) throw new Error(`GET /v1/products/${skuId}: HTTP ${status} ${JSON.stringify(body)}`);
    skus.push({
      skuId,
      initial: options.stock,
      sold: Number(body.sold),
      reserved: Number.NaN,
      available: Number(body.available),
    });
  }
  return skus;
}

/**
 * Waits until no unit of the sale is reserved: every reservation a buyer walked away from has timed out
 * (orderTtlMs, plus the timer wheel's tick) and paid ones are final. Fails after twice the TTL plus 10 s.
 */
async function untilNothingReserved(
  node: HttpNode,
  skuIdFirst: number,
  options: StampedeRunOptions,
): Promise<void> {
  const deadlineMs = Date.now() + 2 * options.orderTtlMs + 10_000;
  let said = false;
  for (;;) {
    const skus = await readApiStock(node, skuIdFirst, options);
    const reserved = skus.reduce((n, s) => n + s.initial - s.sold - s.available, 0);
    if (reserved === 0) return;
    if (!said)
      options.log(
        `waiting for ${reserved} reserved unit(s) to come back (order TTL ${options.orderTtlMs} ms; at most ${(2 * options.orderTtlMs + 10_000) / 1000} s)`,
      );
    said = true;
    if (Date.now() > deadlineMs)
      throw new Error(
        `${reserved} units still reserved ${2 * options.orderTtlMs + 10_000} ms after the sale`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Which order statuses fit each final answer a buyer was told. */
const statusesFitting: Record<number, readonly number[]> = {
  [Outcome.paid]: [OrderStatus.checkoutSuccess],
  [Outcome.holding]: [OrderStatus.readyForCheckout, OrderStatus.timeout],
  [Outcome.released]: [OrderStatus.errorCheckout, OrderStatus.timeout, OrderStatus.exceptionCheckout],
  [Outcome.soldOut]: [],
  [Outcome.refused]: [OrderStatus.failCheckout],
};

/**
 * Reads a seeded sample of buyers' orders over the HTTP API and checks each
 * against the buyer's final answer: a buyer told "paid" has one paid order
 * of their SKU, one told "sold out" has none, and so on.
 */
async function readApiSample(
  node: HttpNode,
  record: MergedRecord,
  options: StampedeRunOptions,
  skuIdFirst: number,
): Promise<{ name: string; ok: boolean; detail: string }> {
  const plan = new BuyerPlan(options.seed, options.skus, options.shares);
  const sample = new Set<number>();
  // Everyone who got stock is rare among the buyers: take half the sample from them.
  for (let b = 1; b <= options.buyers && sample.size < stampedeRunLimits.readApiSampleBuyers / 2; b++) {
    const told = record.finalOutcome[b - 1]!;
    if (told === Outcome.paid || told === Outcome.holding || told === Outcome.released) sample.add(b);
  }
  for (let i = 0; sample.size < Math.min(options.buyers, stampedeRunLimits.readApiSampleBuyers); i++)
    sample.add(1 + Math.floor(buyerUnit(i, options.seed, 3) * options.buyers));
  const buyers = [...sample];
  const problems: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < buyers.length) {
      const buyerId = buyers[next++]!;
      const told = record.finalOutcome[buyerId - 1]!;
      const skuId = skuIdFirst + plan.skuIndexOf(buyerId);
      const { status, body } = await node.get(`/v1/buyers/${buyerId}/orders?limit=10`);
      if (status !== 200) {
        problems.push(`buyer ${buyerId}: HTTP ${status}`);
        continue;
      }
      const orders = (body.orders as { status: string; lines: { skuId: number }[] }[]).filter(
        (o) => o.lines[0]?.skuId === skuId,
      );
      const fitting = (statusesFitting[told] ?? []).map(statusName);
      const ok =
        fitting.length === 0
          ? orders.length === 0
          : orders.length === 1 && fitting.includes(orders[0]!.status);
      if (!ok)
        problems.push(
          `buyer ${buyerId} was told ${told}, the read API has ${orders.length === 0 ? 'no order' : orders.map((o) => o.status).join(', ')}`,
        );
    }
  };
  await Promise.all(Array.from({ length: stampedeRunLimits.readApiConcurrency }, worker));
  return {
    name: 'read API agrees with the buyers',
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? `${buyers.length} buyers' orders read back`
        : `${problems.length} of ${buyers.length} sampled buyers disagree, e.g. ${problems.slice(0, 3).join('; ')}`,
  };
}

function readApiAgreesWithJournal(
  readApi: readonly SkuStock[],
  journal: readonly SkuStock[],
): { name: string; ok: boolean; detail: string } {
  const differing = readApi.filter(
    (s, i) => s.sold !== journal[i]?.sold || s.available !== journal[i]?.available,
  );
  return {
    name: 'read API stock == journal stock',
    ok: differing.length === 0,
    detail:
      differing.length === 0
        ? `${readApi.length} SKUs`
        : differing
            .slice(0, 3)
            .map((s) => `SKU ${s.skuId}: read API sold ${s.sold} available ${s.available}`)
            .join('; '),
  };
}

/** Stops the node, replays its journal from the first record, and reads its orders from the journal. */
async function journalAudit(
  child: ServerChild,
  selection: JournalSelection,
  options: Pick<StampedeRunOptions, 'buyers' | 'stock' | 'skus' | 'log'>,
  skuIdFirst: number,
): Promise<{ store: SaleOutcome['store']; checks: { name: string; ok: boolean; detail: string }[] }> {
  options.log(`stopping its node (fsync, snapshot; at most ${serverChildLimits.stopTimeoutMs / 1000} s)`);
  const live = await child.stop();
  options.log(`replaying the ${describeJournalSelection(selection, child.dataDir)} from scratch`);
  const reader = (await journalBackendFor(selection, child.dataDir)).openReader();
  try {
    return await auditJournal(reader, child.dataDir, live, options, skuIdFirst);
  } finally {
    await reader.close();
  }
}

async function auditJournal(
  reader: JournalReader,
  dataDir: string,
  live: { lastSeq: number; stateHash: string },
  options: Pick<StampedeRunOptions, 'buyers' | 'stock' | 'skus'>,
  skuIdFirst: number,
): Promise<{ store: SaleOutcome['store']; checks: { name: string; ok: boolean; detail: string }[] }> {
  const replay = await replayDataDir(dataDir, reader, { fromScratch: true });
  const checks = [
    {
      name: 'journal replay == live state',
      ok: replay.stateHash === live.stateHash && replay.lastSeq === live.lastSeq,
      detail: `live seq ${live.lastSeq} hash ${live.stateHash}; replayed seq ${replay.lastSeq} hash ${replay.stateHash} (${replay.eventsReplayed} events in ${replay.seconds.toFixed(2)} s)`,
    },
    {
      name: 'engine invariants after replay',
      ok: replay.invariantViolations.length === 0,
      detail: replay.invariantViolations.join('; ') || 'ok',
    },
  ];
  const skus: SkuStock[] = [];
  for (let i = 0; i < options.skus; i++) {
    const skuId = skuIdFirst + i;
    const s = replay.stock.find((x) => x.skuId === skuId);
    skus.push({
      skuId,
      initial: options.stock,
      sold: s?.sold ?? Number.NaN,
      reserved: s?.reserved ?? Number.NaN,
      available: s?.available ?? Number.NaN,
    });
  }
  // Orders as the journal records them, read the way the server's read model reads them.
  const model = new EmbeddedReadModel(options.buyers + 1);
  const scratchWords = new Int32Array(eventPayloadWordsMax);
  const scratchF64 = new Float64Array(scratchWords.buffer);
  const scratchBytes = new Uint8Array(scratchWords.buffer);
  await reader.scan(await reader.firstSeq(), (seq, type, atMs, bytes, offset, length) => {
    scratchBytes.set(bytes.subarray(offset, offset + length));
    model.apply(type, seq, atMs, scratchWords, scratchF64, 0);
  });
  let ordersSold = 0;
  let ordersHolding = 0;
  let ordersReleased = 0;
  const unitsPerBuyerSku = new Map<number, number>();
  let ordersPerBuyerMax = 0;
  const isSaleSku = (skuId: number): boolean => skuId >= skuIdFirst && skuId < skuIdFirst + options.skus;
  for (const order of model.orders.views()) {
    if (!order.lines.some((line) => isSaleSku(line.skuId))) continue; // the warm-up's
    const s = order.status;
    const holdsStock = s >= OrderStatus.checkedInventory && s <= OrderStatus.readyForCheckout;
    if (s === OrderStatus.checkoutSuccess) ordersSold++;
    else if (holdsStock) ordersHolding++;
    else if (s !== OrderStatus.created) ordersReleased++;
    if (s !== OrderStatus.checkoutSuccess && !holdsStock) continue;
    for (const line of order.lines) {
      const key = order.buyerId * 2 ** 21 + line.skuId;
      const units = (unitsPerBuyerSku.get(key) ?? 0) + line.quantity;
      unitsPerBuyerSku.set(key, units);
      ordersPerBuyerMax = Math.max(ordersPerBuyerMax, units);
    }
  }
  return {
    store: { skus, ordersSold, ordersHolding, ordersReleased, ordersPerBuyerMax },
    checks,
  };
}

/** Client worker threads by default: one per two cores, at least one (the server needs the rest). */
export function defaultClientWorkers(): number {
  return Math.max(1, Math.floor(cpus().length / 2));
}
