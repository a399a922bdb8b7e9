/**
 * FOR TESTS: node:fs under the file journal, with a storage fault a test switches on from outside the
 * process. While the file named by TEST_JOURNAL_STALL_FILE exists, an fdatasync blocks (a disk, or a
 * broker, that stopped answering: the engine goes on taking commands meanwhile); once the test deletes
 * the file, that fdatasync fails with EIO, and the bytes written since the file's last fdatasync are
 * dropped, as a failing disk's kernel may drop the dirty pages. Loaded by the journal thread through the
 * selection's fsModule (TEST_JOURNAL_FS_MODULE=<this file> for `stampede serve`).
 */
import * as nodeFs from 'node:fs';
import type { JournalFs } from '../file-journal.ts';

const stallFile = process.env.TEST_JOURNAL_STALL_FILE;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Each file's size at its last fdatasync that succeeded. */
const syncedBytes = new Map<number, number>();

export const journalFs: JournalFs = {
  ...nodeFs,
  fdatasyncSync: (fd) => {
    if (stallFile === undefined || !nodeFs.existsSync(stallFile)) {
      nodeFs.fdatasyncSync(fd);
      syncedBytes.set(fd, nodeFs.fstatSync(fd).size);
      return;
    }
    while (nodeFs.existsSync(stallFile)) Atomics.wait(sleeper, 0, 0, 20);
    const synced = syncedBytes.get(fd);
    if (synced !== undefined) nodeFs.ftruncateSync(fd, synced);
    throw Object.assign(new Error('EIO: i/o error, fdatasync (injected by stalling-fs)'), { code: 'EIO' });
  },
};
