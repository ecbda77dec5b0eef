import { MemoryQueueStore } from '../../src/queue/queue-store.js';
import { queueStoreSuite } from './queue-store.suite.js';

queueStoreSuite('memory', async (bounds) => new MemoryQueueStore(bounds));
