/**
 * Whether the engine's availability array may back a sold-out answer at the edge. The array holds the
 * engine's state, reservations not yet durable included: while the journal keeps up they become durable
 * within a group commit, but a journal that stalls (a broker that stopped answering) and then fails loses
 * them, and buyers told "sold out" meanwhile were told so for stock that exists (issue 18: a 30 s stall
 * turned a whole SKU into SOLD_OUT answers). The engine's own sold-out answer is exact (released only
 * once the reservations it depends on are durable, and JOURNAL_UNAVAILABLE if they never are), so while
 * the journal does not keep up, the edge sends places to the engine instead of answering itself.
 *
 * Keeps up: not failed, and durable up to the engine's last event, or durable further within the last
 * stallMs (group commit always trails the engine by a batch under load; that is not a stall). Sampled on
 * the gateway thread when asked, so a stall is seen at most stallMs after the first question that follows
 * the journal's last advance.
 */
import type { ControlBlock } from '../engine/control-block.ts';

/**
 * How long the durable cursor may stand still behind the engine before sold-out answers leave the edge:
 * well above a group commit's fsync on a loaded machine (a few ms), well below a stall worth the name.
 */
export const journalStallMsDefault = 100;

export class JournalStallWatch {
  private readonly control: ControlBlock;
  private readonly stallMs: number;
  private epoch = -1;
  private advancedAtMs = 0;

  constructor(control: ControlBlock, stallMs = journalStallMsDefault) {
    this.control = control;
    this.stallMs = stallMs;
  }

  keepsUp(nowMs: number): boolean {
    const control = this.control;
    if (control.journalFailed) return false;
    const epoch = control.durableEpoch;
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.advancedAtMs = nowMs;
    }
    return control.durableSeq >= control.engineLastSeq || nowMs - this.advancedAtMs < this.stallMs;
  }
}
