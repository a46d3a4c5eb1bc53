/** Sweeps across machines (the `gradcond/queue` entry point): a worker, and compare's queue runner. */
export { queueRunner } from './submit.js';
export { startWorker } from './worker.js';
export { parseRedisUrl, redactUrl } from './redisUrl.js';
