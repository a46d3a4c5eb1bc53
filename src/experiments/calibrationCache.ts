/**
 * Calibrations kept between invocations on this machine, so that `--dry-run` followed by the
 * run, or a `--resume`, measures each configuration once. An entry is keyed by the machine (CPU
 * model, cores, tfjs backend and version), the configuration and the groups measured; it is used
 * for a week, or never with `--recalibrate`. The file is `$GRADCOND_CACHE/calibrations.json`
 * (default `~/.cache/gradcond`); an unreadable file is ignored and rewritten.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../backend/tf.js';
import { writeJsonAtomic } from '../trace/writer.js';
import { CALIBRATION_METHOD, type Calibration } from './calibrate.js';

/** How long a measured calibration stays valid. */
export const CACHE_DAYS = 7;

interface Entry {
  measuredAt: string;
  calibration: Omit<Calibration, 'key' | 'example'>;
}

export function cacheFile(): string {
  return path.join(process.env.GRADCOND_CACHE ?? path.join(os.homedir(), '.cache', 'gradcond'), 'calibrations.json');
}

/** What makes a measurement this machine's: CPU, cores, backend, tfjs version (and how it was measured). */
export function machineKey(): string {
  return JSON.stringify([os.cpus()[0]?.model ?? 'unknown cpu', os.availableParallelism(), tf.getBackend(), tf.version.tfjs, CALIBRATION_METHOD]);
}

function readAll(): Record<string, Entry> {
  try {
    const v = JSON.parse(fs.readFileSync(cacheFile(), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, Entry>) : {};
  } catch {
    return {};
  }
}

/** The cached calibration of `key`, if measured here within CACHE_DAYS. */
export function cachedCalibration(key: string, now = Date.now()): Entry['calibration'] | null {
  const e = readAll()[`${machineKey()}|${key}`];
  if (!e || !(now - Date.parse(e.measuredAt) < CACHE_DAYS * 86_400_000)) return null;
  return e.calibration;
}

/** Keeps a calibration for later invocations (best effort: a cache that cannot be written is skipped). */
export function storeCalibration(key: string, calibration: Entry['calibration']): void {
  try {
    const all = readAll();
    all[`${machineKey()}|${key}`] = { measuredAt: new Date().toISOString(), calibration };
    fs.mkdirSync(path.dirname(cacheFile()), { recursive: true });
    writeJsonAtomic(cacheFile(), all as never);
  } catch {
    // a read-only home: the estimate still works, it measures again next time
  }
}
