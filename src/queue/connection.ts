/**
 * A Redis connection for gradcond's own keys (files, snapshots, results), opened so that a
 * wrong address or password is one line at start, not a silent wait: the first PING must answer
 * within `timeoutMs`. After that, commands wait while Redis is away (a restart) and go on when
 * it is back.
 */
import { Redis } from 'ioredis';
import { UsageError } from '../errors.js';
import { type RedisTarget, scrub } from './redisUrl.js';

export async function openRedis(target: RedisTarget, timeoutMs = 10_000): Promise<Redis> {
  const redis = new Redis({ ...target.options, lazyConnect: true });
  let lastError = '';
  redis.on('error', (err: Error) => void (lastError = scrub(err.message, target.secrets)));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UsageError(`cannot reach Redis at ${target.display} within ${timeoutMs / 1000} s${lastError ? `: ${lastError}` : ''}`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connect().then(() => redis.ping()), timeout]);
    return redis;
  } catch (err) {
    redis.disconnect();
    if (err instanceof UsageError) throw err;
    // The connection's own error (WRONGPASS, ECONNREFUSED…) says more than the failed command's.
    throw new UsageError(`cannot use Redis at ${target.display}: ${lastError || scrub((err as Error).message, target.secrets)}`);
  } finally {
    clearTimeout(timer);
  }
}
