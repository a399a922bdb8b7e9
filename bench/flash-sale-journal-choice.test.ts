/**
 * Which journal the flash-sale bench's own node writes, and which one its
 * audit reads back: always the same. Before, the audit read the file journal
 * whatever the node was given, so a node on Kafka (STAMPEDE_JOURNAL=kafka)
 * ended the run with ENOENT. A broker is not needed to check the choice; the
 * run itself on Kafka needs one (KAFKA_BROKERS tests, not run here).
 */
import t from 'tap';
import { parseFlashSaleOptions } from './flash-sale.ts';
import { ownNodeJournal } from './flash-sale-stampede.ts';

const brokers = { STAMPEDE_KAFKA_BROKERS: 'broker-1:9092,broker-2:9092' };

t.test('the file journal by default, read back from the data directory', async (t) => {
  t.same(ownNodeJournal({}, undefined, 'run-1'), { env: {}, selection: { kind: 'file' } });
  t.same(ownNodeJournal(brokers, 'file', 'run-1'), {
    env: { STAMPEDE_JOURNAL: 'file' },
    selection: { kind: 'file' },
  });
});

t.test('--journal kafka: the node gets a fresh topic, and the audit reads that topic', async (t) => {
  const { env, selection } = ownNodeJournal(brokers, 'kafka', 'run-2');
  t.same(env, { STAMPEDE_JOURNAL: 'kafka', STAMPEDE_KAFKA_TOPIC: 'stampede.flash-sale.run-2' });
  t.same(selection, {
    kind: 'kafka',
    brokers: ['broker-1:9092', 'broker-2:9092'],
    topic: 'stampede.flash-sale.run-2',
    partition: 0,
    createTopic: false,
  });
});

t.test('a Kafka journal the environment configures is the one audited (the ENOENT case)', async (t) => {
  const { env, selection } = ownNodeJournal(
    { ...brokers, STAMPEDE_JOURNAL: 'kafka', STAMPEDE_KAFKA_TOPIC: 'production.journal' },
    undefined,
    'run-3',
  );
  t.same(
    env,
    { STAMPEDE_KAFKA_TOPIC: 'stampede.flash-sale.run-3' },
    'never an existing topic: the data directory is fresh',
  );
  t.match(selection, { kind: 'kafka', topic: 'stampede.flash-sale.run-3', createTopic: false });
});

t.test('--journal is refused where it cannot work', async (t) => {
  t.throws(() => parseFlashSaleOptions(['--journal', 'kafka'], {}), {
    message: /--journal kafka needs STAMPEDE_KAFKA_BROKERS/,
  });
  t.throws(() => parseFlashSaleOptions(['--journal', 'tape'], brokers), {
    message: /--journal must be file or kafka, got 'tape'/,
  });
  t.throws(
    () =>
      parseFlashSaleOptions(
        ['--journal', 'kafka', '--target', 'http://127.0.0.1:8080', '--create-skus'],
        brokers,
      ),
    {
      message: /a --target node has its own/,
    },
  );
  t.equal(parseFlashSaleOptions(['--journal', 'kafka'], brokers).journal, 'kafka');
});
