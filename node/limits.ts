/**
 * The node's fixed numbers that have no entry (yet) in the configuration
 * table, in one place instead of scattered through the wiring; unit last.
 */
export const nodeLimits = Object.freeze({
  /** Durable-event notifications the gateways' ring holds (engine → gateways). */
  notifyRingSlots: 65_536,
  /** What a BUSY answer tells the client to wait before retrying. */
  busyRetryAfterMs: 50,
  /** Largest page of a listing (products, a buyer's orders). */
  pageSizeMax: 500,
  /** Orders the embedded read model holds (the oldest final ones are forgotten first). */
  readModelOrdersMax: 1_000_000,
  /** Longest a graceful stop waits for the answers in flight. */
  answersInFlightWaitMsMax: 10_000,
  /** Pause after the last answers are handed to the sockets, before the sockets close (let them leave). */
  answersLeaveMs: 10,
  /** A warning that may repeat per command (a refused payment result) is written at most this often. */
  repeatedWarningIntervalMs: 1_000,
  /** The bound of a stop that only closes clients and timers. */
  quickStopMsMax: 5_000,
  /**
   * The engine's stop drains the rings, commits and writes a snapshot of the whole state (seconds for a
   * large one: the flash-sale bench allows 120 s for the whole process).
   */
  engineStopMsMax: 60_000,
});
