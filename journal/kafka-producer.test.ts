/**
 * The Kafka journal's producer configuration, without a broker: creating a
 * kafkajs producer connects nothing, and its warnings go to the client's
 * logger. With the journal's configuration kafkajs stays silent (before, every
 * node start printed its v2 "default partitioner changed" warning); the
 * control case shows the warning would be seen here.
 */
import kafkajs from 'kafkajs';
import t from 'tap';
import { kafkaJournalProducerConfig } from './kafka-journal.ts';

const { Kafka, logLevel } = kafkajs;

t.test('the journal producer names its partitioner, so kafkajs does not warn about it', async (t) => {
  t.equal(
    process.env.KAFKAJS_NO_PARTITIONER_WARNING,
    undefined,
    'the warning is not silenced by the environment',
  );
  const warnings: string[] = [];
  const kafka = new Kafka({
    brokers: ['127.0.0.1:1'],
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ log }) => {
        warnings.push(log.message);
      },
  });
  kafka.producer(kafkaJournalProducerConfig);
  t.same(warnings, [], 'no warning from the journal producer');
  // kafkajs warns once per process: this runs after, so it cannot hide a warning from the case above.
  kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  t.match(warnings, [/default partitioner/], 'without it, kafkajs warns (and this test would see it)');
});
