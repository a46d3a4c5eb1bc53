/**
 * The policy registry: every policy registered here, explicitly (no import side effects).
 * `getPolicy('a')` finds one; `resolvePolicy('a+b')` composes several by name.
 */
import { UsageError } from '../src/errors.js';
import { composePolicies, type AnyPolicy } from '../src/policy.js';
import { constant } from './constant.js';

export const POLICIES: Readonly<Record<string, AnyPolicy>> = Object.freeze({
  constant,
});

export const POLICY_NAMES = Object.keys(POLICIES);

/** The policy called `name`; a UsageError listing the known names otherwise. */
export function getPolicy(name: string): AnyPolicy {
  const p = Object.hasOwn(POLICIES, name) ? POLICIES[name] : undefined;
  if (!p) throw new UsageError(`unknown policy '${name}': choose one of ${POLICY_NAMES.join(', ')}`);
  return p;
}

/**
 * One policy by name, or several joined by '+' (or given as an array) composed into one:
 * `resolvePolicy('lrSchedule+batchGrowth')`.
 */
export function resolvePolicy(names: string | readonly string[]): AnyPolicy {
  const list = (typeof names === 'string' ? names.split('+') : names).map((n) => n.trim());
  if (list.length === 1) return getPolicy(list[0]);
  return composePolicies(list.map(getPolicy));
}
