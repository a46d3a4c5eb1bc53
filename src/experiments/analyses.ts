/**
 * Every analysis by name. A definition names its analysis; the framework calls it with the
 * finished runs (types.ts: Analysis). A new analysis is one module exporting an `Analysis` and
 * one line here.
 */
import { UsageError } from '../errors.js';
import { fitnessAnalysis } from '../fitness/analysis.js';
import { controlAnalysis } from './control.js';
import { costAnalysis } from './cost.js';
import { masksAnalysis } from './masks.js';
import { speedAnalysis } from './speed.js';
import { tracesAnalysis } from './traces.js';
import type { Analysis } from './types.js';

const ALL: readonly Analysis[] = [tracesAnalysis, speedAnalysis, masksAnalysis, costAnalysis, controlAnalysis, fitnessAnalysis];

export const ANALYSES: Readonly<Record<string, Analysis>> = Object.freeze(Object.fromEntries(ALL.map((a) => [a.name, a])));

/** The analysis called `name`; a UsageError listing the known names otherwise. */
export function getAnalysis(name: string): Analysis {
  const a = Object.hasOwn(ANALYSES, name) ? ANALYSES[name] : undefined;
  if (!a) throw new UsageError(`unknown analysis '${name}': known analyses are ${Object.keys(ANALYSES).join(', ') || 'none'}`);
  return a;
}
