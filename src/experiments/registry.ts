/**
 * The experiments by name: every definition listed in `experiments/index.ts`, validated with zod
 * when first asked for, so that a mistake in a definition file is one line naming the file's
 * experiment and the field.
 */
import { EXPERIMENTS } from '../../experiments/index.js';
import { UsageError } from '../errors.js';
import { firstProblem } from '../validation.js';
import { getAnalysis } from './analyses.js';
import { DefinitionSchema, type DefinitionInput, type ExperimentDefinition } from './types.js';

/** Validates one definition (and that its analysis exists). */
export function parseDefinition(raw: DefinitionInput | unknown): ExperimentDefinition {
  const name = (raw as { name?: unknown } | null)?.name;
  const what = `experiment ${typeof name === 'string' ? `'${name}'` : 'definition'}`;
  const r = DefinitionSchema.safeParse(raw);
  if (!r.success) throw new UsageError(firstProblem(r.error, what));
  getAnalysis(r.data.analysis);
  return r.data;
}

let cache: ExperimentDefinition[] | null = null;

/** Every registered experiment, in registry order (numbered ones by number). */
export function experiments(): ExperimentDefinition[] {
  if (cache) return cache;
  const all = EXPERIMENTS.map(parseDefinition);
  const dup = all.find((d, i) => all.findIndex((e) => e.name === d.name) !== i);
  if (dup) throw new UsageError(`two experiments are called '${dup.name}'`);
  cache = all;
  return all;
}

export function experimentNames(): string[] {
  return experiments().map((d) => d.name);
}

/** The experiment called `name` (or numbered `name`); a UsageError listing the names otherwise. */
export function getExperiment(name: string): ExperimentDefinition {
  const found = experiments().find((d) => d.name === name || (d.number !== undefined && String(d.number) === name));
  if (!found) throw new UsageError(`unknown experiment '${name}': choose one of ${experimentNames().join(', ')} (gradcond experiment --list)`);
  return found;
}
