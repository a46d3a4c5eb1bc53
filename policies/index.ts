/**
 * The policy registry: every policy registered here, explicitly (no import side effects).
 * `getPolicy('a')` finds one; `resolvePolicy('a+b')` composes several by name;
 * `describePolicies()` lists them with their options for `gradcond policies` and the docs.
 */
import { UsageError } from '../src/errors.js';
import { composePolicies, type AnyPolicy, type AnyRegisteredPolicy, type Knobs } from '../src/policy.js';
import type { SampledGroup } from '../src/metrics/registry.js';
import { adabatch } from './adabatch.js';
import { adascale } from './adascale.js';
import { batchDissonanceBatch } from './batchDissonanceBatch.js';
import { cabs } from './cabs.js';
import { conditioned } from './conditioned.js';
import { constant } from './constant.js';
import { cosine } from './cosine.js';
import { divebatch } from './divebatch.js';
import { goodput } from './goodput.js';
import { hypergradient } from './hypergradient.js';
import { noiseScale } from './noiseScale.js';
import { describeOptions, parsePolicyOptions, type OptionInfo } from './options.js';
import { plateau } from './plateau.js';
import { step } from './step.js';
import { stepConsistencyLr } from './stepConsistencyLr.js';

export { describeOptions, parsePolicyOptions, type OptionInfo };

const ALL: readonly AnyRegisteredPolicy[] = [
  constant,
  step,
  cosine,
  plateau,
  noiseScale,
  goodput,
  adascale,
  hypergradient,
  divebatch,
  cabs,
  adabatch,
  stepConsistencyLr,
  batchDissonanceBatch,
  conditioned,
];

export const POLICIES: Readonly<Record<string, AnyRegisteredPolicy>> = Object.freeze(Object.fromEntries(ALL.map((p) => [p.name, p])));

export const POLICY_NAMES = Object.keys(POLICIES);

/** The policy called `name`; a UsageError listing the known names otherwise. */
export function getPolicy(name: string): AnyRegisteredPolicy {
  const p = Object.hasOwn(POLICIES, name) ? POLICIES[name] : undefined;
  if (!p) throw new UsageError(`unknown policy '${name}': choose one of ${POLICY_NAMES.join(', ')}`);
  return p;
}

/**
 * One policy by name, or several joined by '+' (or given as an array) composed into one:
 * `resolvePolicy('adascale+cosine')`.
 */
export function resolvePolicy(names: string | readonly string[]): AnyPolicy {
  const list = (typeof names === 'string' ? names.split('+') : names).map((n) => n.trim());
  if (list.length === 1) return getPolicy(list[0]);
  return composePolicies(list.map(getPolicy));
}

/** A registered policy as `gradcond policies` lists it. */
export interface PolicyInfo {
  name: string;
  description: string;
  source: string;
  knobs: (keyof Knobs)[];
  reads: SampledGroup[];
  options: OptionInfo[];
}

/** Every registered policy, in registry order, with its options read from its schema. */
export function describePolicies(): PolicyInfo[] {
  return ALL.map((p) => ({
    name: p.name,
    description: p.description,
    source: p.source,
    knobs: [...p.knobs],
    reads: [...p.reads],
    options: describeOptions(p.options),
  }));
}

/**
 * A schedule's `total` defaults to the run's length: a policy is not told how long a run is,
 * but the command that starts the run knows. For each part of `name` whose options have a
 * `total` that `options` leaves out, sets `total` and `unit` to the run's length. Options of a
 * composition come back keyed by part name.
 */
export function withRunLength(name: string, options: unknown, length: { total: number; unit: 'step' | 'epoch' }): unknown {
  const parts = name.split('+').map((n) => n.trim());
  const needs = (p: string) => {
    const schema = getPolicy(p).options as unknown as { shape?: Record<string, unknown>; def?: { in?: { shape?: Record<string, unknown> } } };
    const shape = schema.shape ?? schema.def?.in?.shape;
    return shape !== undefined && 'total' in shape;
  };
  const fill = (p: string, o: unknown) => {
    if (!needs(p) || (typeof o === 'object' && o !== null && 'total' in o)) return o;
    return { ...(typeof o === 'object' && o !== null ? o : {}), total: Math.max(1, Math.round(length.total)), unit: length.unit };
  };
  if (parts.length === 1) return fill(parts[0]!, options);
  if (Array.isArray(options)) return parts.map((p, i) => fill(p, options[i]));
  const byName = (typeof options === 'object' && options !== null ? options : {}) as Record<string, unknown>;
  return Object.fromEntries(parts.map((p) => [p, fill(p, byName[p])]));
}
