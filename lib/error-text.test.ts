/**
 * What an operator reads when a command fails: the error's code once, then
 * its message.
 */
import t from 'tap';
import { JournalError } from '../journal/errors.ts';
import { errorText } from './error-text.ts';

t.test('a coded error says its code once', async (t) => {
  const coded = new JournalError('JOURNAL_IO', 'listing /data/journal failed: ENOENT');
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
