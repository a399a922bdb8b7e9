/** When the edge may answer sold-out from the availability array: only while the journal keeps up. */
import t from 'tap';
import { ControlBlock } from '../engine/control-block.ts';
import { JournalStallWatch } from './journal-stall.ts';

t.test(
  'a journal that trails by a commit keeps up; one that stands still behind the engine does not',
  async (t) => {
    const control = new ControlBlock();
    const watch = new JournalStallWatch(control, 100);
    control.setDurableSeq(10);
    control.setEngineLastSeq(10);
    t.ok(watch.keepsUp(1_000), 'durable up to the engine');
    control.setEngineLastSeq(12);
    t.ok(watch.keepsUp(1_050), 'behind, but it advanced 50 ms ago (first seen at 1000)');
    control.setDurableSeq(12);
    control.setEngineLastSeq(20);
    t.ok(watch.keepsUp(1_500), 'advanced again: seen at 1500');
    t.ok(watch.keepsUp(1_599), 'still within 100 ms of that');
    t.notOk(watch.keepsUp(1_600), 'standing still behind the engine for 100 ms: a stall');
    t.notOk(watch.keepsUp(60_000), 'and still');
    control.setDurableSeq(20);
    t.ok(watch.keepsUp(60_001), 'caught up: keeps up again');
    control.setJournalFailed();
    t.notOk(watch.keepsUp(60_002), 'a failed journal never keeps up');
  },
);
