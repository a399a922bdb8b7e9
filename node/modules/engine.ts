/**
 * The engine and journal threads (EngineHost: data-directory lock, recovery
 * from snapshot + journal, group commit) and the one command path into them
 * (CommandClient, EngineCommands). Exactly one node per journal runs this
 * module: the file journal's data directory is locked to one process
 * (DATA_DIR_LOCKED); see docs/architecture.md for Kafka.
 *
 * Its stop waits (bounded) for the answers in flight, then drains, commits
 * and writes the final snapshot.
 */
import { CommandClient } from '../../engine/command-client.ts';
import { engineLimits } from '../../engine/limits.ts';
import { EngineCommands } from '../../gateways/engine-commands.ts';
import { fileJournalSelection } from '../../journal/journal-selection.ts';
import { EngineHost } from '../host/engine-host.ts';
import { nodeLimits } from '../limits.ts';
import { textLog } from '../log.ts';
import { defineModule, type EngineParts } from '../module.ts';

/** How often a stop looks whether the answers in flight are out. */
const settledPollMs = 5;

export const engineModule = defineModule({
  name: 'engine',
  summary: 'the engine and journal threads, recovery, and the command path into them',
  settings: ['dataDir', 'journal', 'limits', 'notifyRingSlots', 'inboundRingSlots'],
  needs: [],
  uses: [],
  gives: ['engine'],
  messageKinds: [],
  stopMsMax: nodeLimits.engineStopMsMax,
  async start({ settings, log }) {
    const limits = settings.limits ?? engineLimits();
    const host = await EngineHost.start({
      dataDir: settings.dataDir,
      journal: settings.journal ?? fileJournalSelection,
      limits,
      notifyRingSlots: settings.notifyRingSlots,
      ...(settings.inboundRingSlots === undefined ? {} : { inboundRingSlots: settings.inboundRingSlots }),
      log: textLog(log),
    });
    const client = new CommandClient(host.producers[0]!, host.control);
    const commands = new EngineCommands(client);
    const settled = async (deadlineMs: number): Promise<void> => {
      while (client.inFlightCount > 0 && Date.now() < deadlineMs && host.failed === null) {
        await new Promise((resolve) => setTimeout(resolve, settledPollMs));
      }
    };
    const engine: EngineParts = { host, limits, client, commands, settled };
    const inbound = host.producers[0]!.inbound;
    return {
      gives: { engine },
      gauges: () => ({
        ring_inbound_depth: inbound.slotCount - inbound.freeSlotCount(),
        commands_in_flight: client.inFlightCount,
      }),
      async stop() {
        await settled(Date.now() + nodeLimits.answersInFlightWaitMsMax);
        client.close();
        await host.stop(); // the node reports its final state (StampedeNode.stop)
      },
    };
  },
});
