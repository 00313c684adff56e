// Run by kernel/test/events.test.ts with `node --import tsx`: a consumer that announces each event and never
// finishes handling it, so the test can SIGKILL it with entries read but not acked.
import { StreamConsumer } from '../../src/events/consumer';
import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/redis';

const [redisUrl, keyPrefix, stream, group, consumer] = process.argv.slice(2) as [string, string, string, string, string];
const logger = createLogger('stuck-consumer', 'silent');

new StreamConsumer({
  redis: createRedis(redisUrl, logger),
  keyPrefix,
  stream,
  group,
  consumer,
  logger,
  handle: (event) => {
    process.stdout.write(`handling ${event.id}\n`);
    return new Promise<void>(() => undefined);
  },
}).start();
