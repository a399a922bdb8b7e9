/**
 * What reading an event's payload through engine/event-view.ts costs, against
 * the alternatives it was chosen over: every field of 4096 orderCreated
 * payloads (1 to 3 lines) in ring slots, read
 *
 *   direct        with layout.ts offsets inline, as evolve did before
 *   event-view    through event-view.ts's accessors (imported, as every reader has them)
 *   same-module   the same accessors defined in this module
 *   view-object   through one reusable object set to each slot's offset
 *
 *   npx tsx engine/event-view.bench.ts
 *
 * Prints M events/s per round. No target: what decides is bench/engine.ts
 * (evolve's engine.apply and replay), docs/architecture.md has both.
 */
import {
  orderCreatedBuyerId,
  orderCreatedExpiresAtMs,
  orderCreatedLineCount,
  orderCreatedLineQuantity,
  orderCreatedLineSkuId,
  orderCreatedOrderId,
  orderCreatedRequestId,
  orderCreatedTotalMinor,
} from './event-view.ts';
import { EventSlot, OrderCreated } from './layout.ts';

const slots = 4096;
const passes = 2000;
const rounds = 5;
const words = new Int32Array(slots * EventSlot.words);
const f64 = new Float64Array(words.buffer);
const payloadAt = (slot: number): number => slot * EventSlot.words + EventSlot.payload;

for (let slot = 0; slot < slots; slot++) {
  const at = payloadAt(slot);
  const lineCount = 1 + (slot % 3);
  words[at + OrderCreated.buyerId] = slot;
  words[at + OrderCreated.lineCount] = lineCount;
  f64[(at + OrderCreated.orderId) >> 1] = slot * 7;
  f64[(at + OrderCreated.requestId) >> 1] = slot;
  f64[(at + OrderCreated.expiresAtMs) >> 1] = 1e12 + slot;
  f64[(at + OrderCreated.totalMinor) >> 1] = 99;
  for (let i = 0; i < lineCount; i++) {
    const line = at + OrderCreated.lines + i * OrderCreated.lineWords;
    words[line + OrderCreated.lineSkuId] = slot + i;
    words[line + OrderCreated.lineQuantity] = 2;
  }
}

function direct(): number {
  let sum = 0;
  for (let slot = 0; slot < slots; slot++) {
    const at = payloadAt(slot);
    sum +=
      words[at + OrderCreated.buyerId]! +
      f64[(at + OrderCreated.orderId) >> 1]! +
      f64[(at + OrderCreated.requestId) >> 1]! +
      f64[(at + OrderCreated.expiresAtMs) >> 1]! +
      f64[(at + OrderCreated.totalMinor) >> 1]!;
    const lineCount = words[at + OrderCreated.lineCount]!;
    for (let i = 0; i < lineCount; i++) {
      const line = at + OrderCreated.lines + i * OrderCreated.lineWords;
      sum += words[line + OrderCreated.lineSkuId]! * words[line + OrderCreated.lineQuantity]!;
    }
  }
  return sum;
}

function eventView(): number {
  let sum = 0;
  for (let slot = 0; slot < slots; slot++) {
    const at = payloadAt(slot);
    sum +=
      orderCreatedBuyerId(words, at) +
      orderCreatedOrderId(f64, at) +
      orderCreatedRequestId(f64, at) +
      orderCreatedExpiresAtMs(f64, at) +
      orderCreatedTotalMinor(f64, at);
    const lineCount = orderCreatedLineCount(words, at);
    for (let i = 0; i < lineCount; i++)
      sum += orderCreatedLineSkuId(words, at, i) * orderCreatedLineQuantity(words, at, i);
  }
  return sum;
}

const localBuyerId = (w: Int32Array, at: number): number => w[at + OrderCreated.buyerId]!;
const localLineCount = (w: Int32Array, at: number): number => w[at + OrderCreated.lineCount]!;
const localOrderId = (f: Float64Array, at: number): number => f[(at + OrderCreated.orderId) >> 1]!;
const localRequestId = (f: Float64Array, at: number): number => f[(at + OrderCreated.requestId) >> 1]!;
const localExpiresAtMs = (f: Float64Array, at: number): number => f[(at + OrderCreated.expiresAtMs) >> 1]!;
const localTotalMinor = (f: Float64Array, at: number): number => f[(at + OrderCreated.totalMinor) >> 1]!;
const localLineSkuId = (w: Int32Array, at: number, i: number): number =>
  w[at + OrderCreated.lines + i * OrderCreated.lineWords + OrderCreated.lineSkuId]!;
const localLineQuantity = (w: Int32Array, at: number, i: number): number =>
  w[at + OrderCreated.lines + i * OrderCreated.lineWords + OrderCreated.lineQuantity]!;

function sameModule(): number {
  let sum = 0;
  for (let slot = 0; slot < slots; slot++) {
    const at = payloadAt(slot);
    sum +=
      localBuyerId(words, at) +
      localOrderId(f64, at) +
      localRequestId(f64, at) +
      localExpiresAtMs(f64, at) +
      localTotalMinor(f64, at);
    const lineCount = localLineCount(words, at);
    for (let i = 0; i < lineCount; i++) sum += localLineSkuId(words, at, i) * localLineQuantity(words, at, i);
  }
  return sum;
}

/** The alternative to event-view.ts's functions: one object, moved from slot to slot. */
class OrderCreatedView {
  at = 0;
  private readonly words: Int32Array;
  private readonly f64: Float64Array;
  constructor(words: Int32Array, f64: Float64Array) {
    this.words = words;
    this.f64 = f64;
  }
  get buyerId(): number {
    return this.words[this.at + OrderCreated.buyerId]!;
  }
  get lineCount(): number {
    return this.words[this.at + OrderCreated.lineCount]!;
  }
  get orderId(): number {
    return this.f64[(this.at + OrderCreated.orderId) >> 1]!;
  }
  get requestId(): number {
    return this.f64[(this.at + OrderCreated.requestId) >> 1]!;
  }
  get expiresAtMs(): number {
    return this.f64[(this.at + OrderCreated.expiresAtMs) >> 1]!;
  }
  get totalMinor(): number {
    return this.f64[(this.at + OrderCreated.totalMinor) >> 1]!;
  }
  lineSkuId(i: number): number {
    return this.words[this.at + OrderCreated.lines + i * OrderCreated.lineWords + OrderCreated.lineSkuId]!;
  }
  lineQuantity(i: number): number {
    return this.words[this.at + OrderCreated.lines + i * OrderCreated.lineWords + OrderCreated.lineQuantity]!;
  }
}
const view = new OrderCreatedView(words, f64);

function viewObject(): number {
  let sum = 0;
  for (let slot = 0; slot < slots; slot++) {
    view.at = payloadAt(slot);
    sum += view.buyerId + view.orderId + view.requestId + view.expiresAtMs + view.totalMinor;
    const lineCount = view.lineCount;
    for (let i = 0; i < lineCount; i++) sum += view.lineSkuId(i) * view.lineQuantity(i);
  }
  return sum;
}

const cases: readonly (readonly [string, () => number])[] = [
  ['direct', direct],
  ['event-view', eventView],
  ['same-module', sameModule],
  ['view-object', viewObject],
];
const expected = direct();
for (const [name, read] of cases) {
  if (read() !== expected) throw new Error(`${name} read different values than direct offsets`);
}
for (let round = 0; round < rounds; round++) {
  const results: string[] = [];
  for (const [name, read] of cases) {
    let sink = 0;
    const startNs = process.hrtime.bigint();
    for (let pass = 0; pass < passes; pass++) sink += read();
    const elapsedNs = Number(process.hrtime.bigint() - startNs);
    if (sink === -1) console.log(sink); // keeps the reads observable
    results.push(`${name} ${((slots * passes) / (elapsedNs / 1e9) / 1e6).toFixed(0)} M/s`);
  }
  console.log(`round ${round + 1}: ${results.join(', ')}`);
}
