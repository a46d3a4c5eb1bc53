/**
 * One conformance suite every registered policy passes: declarations, option validation and
 * listing, purity (states are frozen before each call), JSON state that survives a checkpoint
 * and resumes to the same decisions, and a long closed-loop run that makes it act, with every
 * raw update finite and positive and nothing dropped by the guard.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { describePolicies, POLICIES } from '../policies/index.js';
import { UsageError } from '../src/errors.js';
import { createLogger, setLogger, type Logger } from '../src/log.js';
import { SAMPLED_GROUPS } from '../src/metrics/registry.js';
import { KNOB_NAMES, type AnyPolicy, type Knobs, type PolicyUpdate } from '../src/policy.js';
import { simulate } from './policiesStreams.js';

const START: Knobs = { learningRate: 0.1, batchSize: 64 };

/** Options a policy needs to run (required ones) or to act in the synthetic world. */
const RUN_OPTIONS: Record<string, unknown> = {
  cosine: { total: 400 },
  adascale: { baseBatch: 32 },
};

/** Policies that, by design, never change a knob. */
const INERT = new Set(['constant']);

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}

/** The policy with its update wrapped: frozen input state, raw updates recorded. */
function watched(policy: AnyPolicy, raws: (PolicyUpdate | null)[]): AnyPolicy {
  return {
    ...policy,
    update(event, state, hyper, knobs, ctx) {
      const r = policy.update(event, deepFreeze(structuredClone(state)), hyper, knobs, ctx);
      raws.push(r[0]);
      return r;
    },
  };
}

let logged: string[] = [];
let prev: Logger | undefined;
before(() => {
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => logged.push(c.toString()));
  prev = setLogger(createLogger({ level: 'warn', stream }));
});
after(() => void setLogger(prev));

const infos = new Map(describePolicies().map((i) => [i.name, i]));
const DOCS = readFileSync(new URL('../docs/policies.md', import.meta.url), 'utf8');

describe('policy conformance', () => {
  test('the registry and the listing name the same fourteen policies', () => {
    assert.deepEqual([...infos.keys()], Object.keys(POLICIES));
    assert.equal(infos.size, 14);
  });

  for (const [name, policy] of Object.entries(POLICIES)) {
    describe(name, () => {
      const hyper = policy.validate(RUN_OPTIONS[name]);

      test('declares itself: name, description, source, knobs, reads', () => {
        assert.equal(policy.name, name);
        assert.ok(policy.description.length > 10 && policy.source.length > 5);
        for (const k of policy.knobs) assert.ok((KNOB_NAMES as readonly string[]).includes(k), k);
        for (const g of policy.reads) assert.ok((SAMPLED_GROUPS as readonly string[]).includes(g), `unknown group ${g}`);
      });

      test('describePolicies lists its options with the defaults validate applies', () => {
        const info = infos.get(name)!;
        assert.deepEqual(info.knobs, [...policy.knobs]);
        assert.deepEqual(info.reads, [...policy.reads]);
        const parsed = policy.validate(RUN_OPTIONS[name]) as Record<string, unknown>;
        const schemaKeys = Object.keys((policy.options as unknown as z.ZodObject).shape ?? {});
        const listedTop = new Set(info.options.map((o) => o.name.split('.')[0]));
        assert.deepEqual([...listedTop].sort(), schemaKeys.sort());
        for (const o of info.options) {
          assert.ok(o.description.length > 5, `${o.name} has a description`);
          const value = o.name.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], parsed);
          if (o.default !== null) assert.deepEqual(value, o.default, `${o.name}: listed default`);
          if (o.required) assert.ok(RUN_OPTIONS[name] !== undefined, `${o.name} is required`);
        }
      });

      test('docs/policies.md documents it and each of its options', () => {
        const section = DOCS.split(`### \`${name}\``)[1]?.split('\n### ')[0];
        assert.ok(section !== undefined, `a section for ${name}`);
        for (const o of infos.get(name)!.options) {
          const top = o.name.split('.')[0];
          assert.ok(section.includes(`\`${o.name}\``) || (top !== o.name && section.includes(`\`${top}\``)), `${name}: option ${o.name} documented`);
          // A table row, where there is one, shows the default the code applies.
          const row = section.split('\n').find((l) => l.startsWith(`| \`${o.name}\` |`));
          if (row && o.default !== null) assert.equal(row.split('|')[3].trim(), `\`${JSON.stringify(o.default)}\``, `${name}: ${o.name}'s documented default`);
        }
      });

      test('bad options are UsageErrors naming the option', () => {
        assert.throws(() => policy.validate({ noSuchOption: 1 }), (e: Error) => e instanceof UsageError && /unknown option\(s\) noSuchOption/.test(e.message));
        assert.throws(() => policy.validate(42), UsageError);
        for (const o of infos.get(name)!.options) {
          if (o.type !== 'number' && o.type !== 'integer') continue;
          const path = o.name.split('.');
          for (const bad of [Number.POSITIVE_INFINITY, Number.NaN, 'abc', -1]) {
            const raw = structuredClone((RUN_OPTIONS[name] ?? {}) as Record<string, unknown>);
            let node = raw;
            for (const k of path.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
            node[path[path.length - 1]] = bad;
            let err: unknown = null;
            try {
              policy.validate(raw);
            } catch (e) {
              err = e;
            }
            if (bad === -1 && err === null) continue; // a signed option (e.g. lowRatio) may be negative
            assert.ok(err instanceof UsageError, `${o.name} = ${String(bad)} is a UsageError`);
            assert.ok((err as Error).message.includes(`'${o.name}'`), `${(err as Error).message} names ${o.name}`);
          }
        }
      });

      test('a long closed-loop run: acts, stays finite and positive, pure, guard never needed', () => {
        logged = [];
        const raws: (PolicyUpdate | null)[] = [];
        const { out } = simulate(watched(policy, raws), hyper, START, 600);
        for (const r of raws) {
          if (r === null) continue;
          for (const k of KNOB_NAMES) {
            const v = r[k];
            if (v === undefined) continue;
            assert.ok(policy.knobs.includes(k), `writes only declared knobs (${k})`);
            assert.ok(Number.isFinite(v) && v > 0, `${k} ${v} finite and positive`);
            if (k === 'batchSize') assert.ok(Number.isInteger(v));
          }
          assert.ok(typeof r.reason === 'string' && r.reason.length > 10, 'every decision says why');
        }
        const emitted = out.filter((s) => s.update !== null).length;
        if (INERT.has(name)) assert.equal(emitted, 0);
        else assert.ok(emitted > 0, `${name} acted at least once`);
        assert.deepEqual(logged.filter((l) => /dropped/.test(l)), []);
      });

      test('its state is JSON: it round-trips, and a resumed run decides as an uninterrupted one', () => {
        const whole = simulate(policy, hyper, START, 400);
        for (const s of whole.out) assert.deepEqual(JSON.parse(JSON.stringify(s.state)), s.state);
        const half = simulate(policy, hyper, START, 200);
        const last = half.out[half.out.length - 1];
        const restored = JSON.parse(JSON.stringify(last.state)) as unknown;
        const prevLr = (half.events.filter((e) => !('group' in e) && !('kind' in e)).at(-1) as { learningRate: number }).learningRate;
        const rest = simulate(policy, hyper, last.knobs, 200, { from: 200, initial: restored, prevLr });
        const tail = whole.out.slice(half.out.length);
        assert.deepEqual(rest.out.map((s) => s.update), tail.map((s) => s.update));
        assert.deepEqual(rest.out.map((s) => s.knobs), tail.map((s) => s.knobs));
      });
    });
  }
});
