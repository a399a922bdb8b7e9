/**
 * What an operator reads when a command fails: the error's code once, then
 * its message.
 */
import t from 'tap';
import { errorText } from './error-text.ts';

t.test('a coded error says its code once', async (t) => {
  // Shaped like JournalError, whose message starts with its code (lib/ imports nothing above it).
  const coded = Object.assign(new Error('JOURNAL_IO: listing /data/journal failed: ENOENT'), {
    code: 'JOURNAL_IO',
  });
  t.equal(errorText(coded), 'JOURNAL_IO: listing /data/journal failed: ENOENT');
  const driver = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  t.equal(
    errorText(driver),
    'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1',
    'a code the message lacks is added',
  );
  t.equal(errorText(new Error('plain')), 'plain');
  t.equal(errorText('not an error'), 'not an error');
});
