/**
 * The journal the node reads (the engine's threads write it): its backend,
 * for the readers of the read model's catch-up and the projectors. Kafka's
 * client logs through the node's logger (kafkaLogCreator).
 */
import { fileJournalSelection, journalBackendFor } from '../../journal/journal-selection.ts';
import { nodeLimits } from '../limits.ts';
import { kafkaLogCreator, textLog } from '../log.ts';
import { defineModule } from '../module.ts';

export const journalModule = defineModule({
  name: 'journal',
  summary: "the journal's backend (file in the data directory, or Kafka) for the node's readers",
  settings: ['dataDir', 'journal'],
  needs: [],
  uses: [],
  gives: ['journal'],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  async start({ settings, log }) {
    const journal = await journalBackendFor(settings.journal ?? fileJournalSelection, settings.dataDir, {
      log: textLog(log, 'warn'),
      logCreator: kafkaLogCreator(log),
    });
    log.info({ journal: journal.location }, `journal: ${journal.kind} at ${journal.location}`);
    return { gives: { journal } };
  },
});
