/**
 * Stable numeric codes shared by the engine, the journal and the edges.
 * Numbers are part of the journal format and the client protocol: never
 * renumber, only append. Names mirror proto/stampede/v1/*.proto.
 */

/** Commands a producer writes into an inbound ring. */
export const CommandType = {
  addProduct: 1,
  restock: 2,
  setPrice: 3,
  configureSale: 4,
  blockBuyer: 5,
  placeOrder: 6,
  paymentResult: 7,
  cancelOrder: 8,
  tick: 9,
} as const;
export type CommandType = (typeof CommandType)[keyof typeof CommandType];

/** Events the engine emits; the journal stores them and replay re-applies them. */
export const EventType = {
  productAdded: 1,
  stockRestocked: 2,
  priceSet: 3,
  saleConfigured: 4,
  buyerBlocked: 5,
  orderRefused: 6,
  orderCreated: 7,
  orderStatusChanged: 8,
  orderForgotten: 9,
  paymentReceived: 10,
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** The seed's order state machine, plus `canceled` (the buyer gave up before paying). */
export const OrderStatus = {
  none: 0,
  created: 1,
  checkedInventory: 2,
  pendingCheckout: 3,
  readyForCheckout: 4,
  checkoutSuccess: 5,
  errorCheckout: 6,
  timeout: 7,
  exceptionCheckout: 8,
  failCheckout: 9,
  canceled: 10,
} as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

/** Statuses that hold a stock reservation. */
export function isReservingStatus(status: number): boolean {
  return (
    status === OrderStatus.checkedInventory ||
    status === OrderStatus.pendingCheckout ||
    status === OrderStatus.readyForCheckout
  );
}

/** Statuses after which nothing but exception handling can happen. */
export function isFinalStatus(status: number): boolean {
  return status >= OrderStatus.checkoutSuccess;
}

/**
 * Final statuses no command changes any more. Timeout and canceled are final
 * but not settled: a payment that lands late still turns them into
 * exceptionCheckout (processor.ts, paymentResult).
 */
export function isSettledStatus(status: number): boolean {
  return isFinalStatus(status) && status !== OrderStatus.timeout && status !== OrderStatus.canceled;
}

/**
 * Business outcomes: values, never exceptions. `ok` is the only success.
 * An order refused before creation carries one of these in `orderRefused`;
 * a created order that fails risk or pricing goes to `failCheckout` with one.
 */
export const ResultCode = {
  ok: 0,
  soldOut: 1,
  insufficientStock: 2,
  limitPerBuyerExceeded: 3,
  priceChanged: 4,
  totalMismatch: 5,
  buyerBlocked: 6,
  unknownSku: 7,
  saleNotOpen: 8,
  velocityExceeded: 9,
  quantityInvalid: 10,
  linesInvalid: 11,
  ordersFull: 12,
  buyersFull: 13,
  unknownOrder: 14,
  notOrderOwner: 15,
  invalidTransition: 16,
  productExists: 17,
  skuOutOfRange: 18,
  priceInvalid: 19,
  currencyMismatch: 20,
  amountMismatch: 21,
  paymentDeclined: 22,
  expired: 23,
  buyerSkuPairsFull: 24,
  stockInvalid: 25,
  saleWindowInvalid: 26,
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

/** Refusals for want of stock: not remembered for idempotency (a retry is judged afresh). */
export function isStockRefusal(code: number): boolean {
  return code === ResultCode.soldOut || code === ResultCode.insufficientStock;
}

/** Payment outcomes carried by `paymentResult`. */
export const PaymentOutcome = { succeeded: 1, declined: 2 } as const;
export type PaymentOutcome = (typeof PaymentOutcome)[keyof typeof PaymentOutcome];

const reverse = (table: Record<string, number>): string[] => {
  const names: string[] = [];
  for (const [name, code] of Object.entries(table)) names[code] = name;
  return names;
};
const resultNames = reverse(ResultCode);
/**
 * Order statuses are spelled the seed's way everywhere a person or another program reads them (HTTP,
 * WebSocket JSON, Redis, MySQL, logs, docs): `checkout_success`, from the key `checkoutSuccess`. The
 * protobuf enum's value names keep their ORDER_STATUS_ prefix, as protobuf's naming rule needs, and are
 * the same words in capitals. This is the one mapping.
 */
const statusNames = reverse(OrderStatus).map((key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
const eventNames = reverse(EventType);
const commandNames = reverse(CommandType);

export const resultName = (code: number): string => resultNames[code] ?? `result#${code}`;
export const statusName = (status: number): string => statusNames[status] ?? `status#${status}`;
export const eventName = (type: number): string => eventNames[type] ?? `event#${type}`;
export const commandName = (type: number): string => commandNames[type] ?? `command#${type}`;
