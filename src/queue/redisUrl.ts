/**
 * Where the queue lives: a Redis URL, `redis://[user:password@]host[:port][/db]`, or
 * `rediss://…` for TLS. The password is a secret: whatever gradcond prints or stores shows
 * `redactUrl(url)` instead of the URL, and error text from the connection passes through
 * `scrub`. A password can also come from the environment (`GRADCOND_REDIS_PASSWORD`), which keeps
 * it off the command line, where other users of the machine could read it in `ps`.
 *
 * The URL is parsed here into explicit connection options, rather than handed to the Redis
 * client, whose URL parser turns any query parameter into a client option.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export const PASSWORD_ENV = 'GRADCOND_REDIS_PASSWORD';
const DEFAULT_PORT = 6379;
const MASK = '***';

/** Connection options for ioredis (and so for BullMQ's connections). */
export interface RedisOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  /** Present for `rediss://`: TLS, checking the server's certificate against `host`. */
  tls?: { servername?: string };
  /** BullMQ's blocking connections need this to be null (retry forever while Redis is away). */
  maxRetriesPerRequest: null;
}

export interface RedisTarget {
  options: RedisOptions;
  /** The URL with the password masked: safe to print. */
  display: string;
  /** Strings that must never be printed (the password, as given and as encoded in the URL). */
  secrets: string[];
}

/** The URL with any password replaced by `***` (works on malformed URLs too). */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@([^@]*)$/is.exec(url);
  if (!m) return url;
  const userinfo = m[2]!;
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? '' : userinfo.slice(0, colon);
  return `${m[1]}${user}:${MASK}@${m[3]}`;
}

/** `text` with every secret replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(MASK);
  return out;
}

function decode(part: string, what: string, url: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new UsageError(`${redactUrl(url)}: the ${what} is not valid percent-encoding`);
  }
}

/**
 * Parses a queue URL into connection options. Refuses, in one line that never shows the
 * password: another scheme, a missing host, a bad port or database number, query parameters.
 */
export function parseRedisUrl(url: string, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  const shown = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not shown: a string that is not a URL may still hold a password where redaction cannot find it.
    throw new UsageError('--queue is not a URL (not shown, as it may hold a password): give redis://host:6379 or rediss://user:password@host:6380/0');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--queue must start with redis:// or rediss:// (TLS), got ${shown}`);
  if (!u.hostname) throw new UsageError(`${shown}: no host`);
  if (u.search || u.hash) throw new UsageError(`${shown}: query parameters and fragments are not supported; give host, port, user, password and database in the URL`);
  const port = u.port ? Number(u.port) : DEFAULT_PORT;
  const dbText = u.pathname.replace(/^\//, '');
  if (!/^\d*$/.test(dbText)) throw new UsageError(`${shown}: the path must be a database number (e.g. /0), got /${dbText}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const username = u.username ? decode(u.username, 'user name', url) : undefined;
  const password = u.password ? decode(u.password, 'password', url) : env[PASSWORD_ENV] || undefined;
  const options: RedisOptions = {
    host,
    port,
    db: dbText ? Number(dbText) : 0,
    maxRetriesPerRequest: null,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    // TLS checks the certificate against the host; SNI (servername) is for names, not addresses.
    ...(u.protocol === 'rediss:' ? { tls: isIP(host) ? {} : { servername: host } } : {}),
  };
  const secrets = password === undefined ? [] : [...new Set([password, u.password, encodeURIComponent(password)].filter(Boolean))];
  return { options, display: password !== undefined && !u.password ? `${shown} (password from ${PASSWORD_ENV})` : shown, secrets };
}
