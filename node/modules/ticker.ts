/** Time enters the engine only as commands: one Tick per timer slot (order expiry). */
import { nodeLimits } from '../limits.ts';
import { defineModule } from '../module.ts';

export const tickerModule = defineModule({
  name: 'ticker',
  summary: 'one Tick command per timer slot: order expiry',
  settings: [],
  needs: ['engine'],
  uses: [],
  gives: [],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  async start({ need }) {
    const { commands, limits } = need('engine');
    const ticker = setInterval(() => {
      // A tick refused for a failed journal is moot: the node is stopping to restart.
      commands.submit({ type: 'tick' })?.catch(() => {});
    }, limits.timerSlotMs);
    return { gives: {}, stop: async () => clearInterval(ticker) };
  },
});
