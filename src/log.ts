/**
 * Logging, through winston. Library code logs with `logger().info(message, {key: value})` and
 * never calls console.log; the CLI installs its own logger with `setLogger`.
 *
 * Console lines go to stderr (stdout stays free for command output), colourless:
 *
 *     14:03:07 info epoch done epoch=3 loss=0.412 kappaW=1.93
 *
 * With `runDir`, every entry is also appended to `<runDir>/run.log` as one JSON object per line
 * ({timestamp, level, message, ...fields}), with synchronous writes: like the trace, the log
 * survives a killed process up to its last complete line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import winston from 'winston';
import { makeDirs } from './trace/dirs.js';
import { UsageError } from './errors.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type Logger = winston.Logger;

export const LOG_FILE = 'run.log';

/** winston's priorities for our levels: lower is more severe. */
const PRIORITIES: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

const MESSAGE = Symbol.for('message');

export interface LoggerOptions {
  /** Most verbose level written: 'error', 'warn', 'info' (default) or 'debug'. */
  level?: string;
  /** When given, also append JSON lines to `<runDir>/run.log` (the directory is created). */
  runDir?: string;
  /** Write human-readable lines to stderr (default true). */
  console?: boolean;
  /** Where console lines go instead of process.stderr (tests). */
  stream?: NodeJS.WritableStream;
}

/** Checks a level name; throws an Error that lists the valid levels. */
export function parseLogLevel(level: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new UsageError(`unknown log level '${level}': choose one of ${LOG_LEVELS.join(', ')}`);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Fields of an info object other than winston's own. */
function fields(info: winston.Logform.TransformableInfo): [string, unknown][] {
  return Object.entries(info).filter(([k]) => k !== 'level' && k !== 'message' && k !== 'timestamp' && k !== 'stack');
}

/** `HH:MM:SS level message key=value ...` in local time; a logged Error's stack follows. */
const consoleFormat = winston.format.printf((info) => {
  const d = new Date();
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const kv = fields(info).map(([k, v]) => ` ${k}=${formatValue(v)}`).join('');
  const stack = typeof info.stack === 'string' ? `\n${info.stack}` : '';
  return `${time} ${info.level} ${String(info.message)}${kv}${stack}`;
});

/**
 * winston's transport base class. At run time winston exports it as `Transport`; its typings
 * call it `transport` (which is undefined at run time).
 */
type TransportClass = new (opts?: winston.transport.TransportStreamOptions) => winston.transport;
const TransportBase = (winston as unknown as { Transport: TransportClass }).Transport;

/** Appends each entry's formatted line to a file with one synchronous write. */
class SyncFileTransport extends TransportBase {
  private fd: number | null;

  constructor(file: string, opts: winston.transport.TransportStreamOptions) {
    super(opts);
    this.fd = fs.openSync(file, 'a');
  }

  override log(info: winston.Logform.TransformableInfo, next: () => void): void {
    if (this.fd !== null) {
      const line = `${String((info as Record<symbol, unknown>)[MESSAGE])}\n`;
      fs.writeSync(this.fd, line);
    }
    next();
  }

  override close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * A winston logger with our four levels. `logger.close()` closes its run.log.
 * Throws when `level` is not one of LOG_LEVELS.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = parseLogLevel(opts.level ?? 'info');
  const transports: winston.transport[] = [];
  if (opts.console ?? true) {
    transports.push(new winston.transports.Stream({ stream: opts.stream ?? process.stderr, format: consoleFormat }));
  }
  if (opts.runDir !== undefined) {
    makeDirs(opts.runDir, 'run directory');
    transports.push(
      new SyncFileTransport(path.join(opts.runDir, LOG_FILE), {
        format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      }),
    );
  }
  return winston.createLogger({
    levels: PRIORITIES,
    level,
    // `logger.error(err)` keeps the message, and the stack (console and run.log).
    format: winston.format.errors({ stack: true }),
    transports,
    // With no transport (console off, no runDir) winston would complain on every entry.
    silent: transports.length === 0,
    exitOnError: false,
  });
}

let current: Logger | undefined;

/**
 * The process-wide logger that library code uses. Until `setLogger` is called it is a console
 * logger at level `GRADCOND_LOG_LEVEL` (default 'warn': a library stays quiet unless asked).
 */
export function logger(): Logger {
  if (current === undefined) {
    const env = process.env.GRADCOND_LOG_LEVEL;
    if (env !== undefined && !(LOG_LEVELS as readonly string[]).includes(env)) {
      throw new Error(`GRADCOND_LOG_LEVEL='${env}' is not a log level: choose one of ${LOG_LEVELS.join(', ')}`);
    }
    current = createLogger({ level: env ?? 'warn' });
  }
  return current;
}

/**
 * Replaces the process-wide logger (undefined: back to the default) and returns the previous
 * one, which the caller may close or restore.
 */
export function setLogger(next: Logger | undefined): Logger | undefined {
  const prev = current;
  current = next;
  return prev;
}
