/**
 * The engine's cost as the batch grows: for each batch size, the per-example and input-gradient
 * metric groups relative to one training step of the same model and batch, and a profile of where
 * each group's time goes (the batched pass, the Gram matrix on the device, its read-back, the
 * host eigen-solve, the rest). Every time is a median over rounds that take each timing in turn,
 * after two warm-up rounds; these also fill the per-shape cache of E[R(Y)] (rankW/rankX's
 * normaliser), so its one-time cost is left out.
 */
import { tf } from '../backend/tf.js';
import { registerWasm } from '../backend/backend.js';
import { installOverrides } from '../backend/overrides.js';
import { batchTensors } from '../data/dataset.js';
import { syntheticClusters } from '../data/synthetic.js';
import { toGram } from '../engine/hostMath.js';
import { perExampleLoss } from '../engine/losses.js';
import { measureBatch } from '../engine/measure.js';
import { parameterCount } from '../engine/params.js';
import { disjointSubsets, disposePass, gram, inputGram, inputGramNeedsInputGradients, perExamplePass, subsetGrams } from '../engine/perExample.js';
import { largestEigenvalue } from '../metrics/gram.js';
import { type SampleGroup, computeGroup } from '../metrics/registry.js';
import { buildModel } from '../models/zoo.js';
import type { BenchRow } from './bench.js';
import { median, now } from './timing.js';
import { trainStep } from './trainStep.js';

export interface SweepOptions {
  backends: string[];
  models: string[];
  batches: number[];
  runs: number;
  log?: (line: string) => void;
}

/** The stages of one group's computation, ms. */
interface Stages {
  pass: number;
  gramOnDevice: number;
  readBack: number;
  eigenSolve: number;
  rest: number;
}

const GROUPS: { group: Extract<SampleGroup, 'perExample' | 'inputGradient'>; label: string }[] = [
  { group: 'perExample', label: 'per-example' },
  { group: 'inputGradient', label: 'input gradients' },
];

/** One run of a group, stage by stage, as measureBatch computes it (same functions, same order). */
function profileOnce(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, group: 'perExample' | 'inputGradient'): Stages {
  const loss = perExampleLoss('categoricalCrossentropy');
  const t0 = now();
  const inputGradients = group === 'inputGradient' && inputGramNeedsInputGradients(model, x.shape[0]);
  const pass = perExamplePass(model, loss, x, y, { inputGradients });
  pass.losses.dataSync();
  const t1 = now();
  const g = group === 'perExample' ? gram(pass) : inputGram(pass);
  const t2 = now();
  const data = g.dataSync();
  const t3 = now();
  const G = toGram(pass.b, data);
  const t4 = now();
  largestEigenvalue(G);
  const t5 = now();
  const dim = group === 'perExample' ? parameterCount(model) : x.size / pass.b;
  computeGroup(group, { gram: G, dim });
  g.dispose();
  disposePass(pass);
  const t6 = now();
  return { pass: t1 - t0, gramOnDevice: t2 - t1, readBack: t3 - t2, eigenSolve: t5 - t4, rest: t4 - t3 + (t6 - t5) };
}

/** Sub-batch size of the approximation row (batches above it only). */
const SUBSET_SIZE = 256;

/**
 * The stated approximation: the per-example group's metrics on ⌊b / 256⌋ disjoint random
 * sub-batches of 256 (their mean and standard error), one run in ms.
 */
function subsetOnce(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): number {
  const t0 = now();
  const pass = perExamplePass(model, perExampleLoss('categoricalCrossentropy'), x, y, { inputGradients: false });
  const dim = parameterCount(model);
  for (const g of subsetGrams(pass, disjointSubsets(pass.b, { size: SUBSET_SIZE, seed: 0 }))) {
    computeGroup('perExample', { gram: toGram(SUBSET_SIZE, g.dataSync()), dim });
    g.dispose();
  }
  disposePass(pass);
  return now() - t0;
}

/** One run of the whole group through measureBatch, ms. */
function groupOnce(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, group: SampleGroup): number {
  const engine = { model, loss: perExampleLoss('categoricalCrossentropy'), mask: null, eta: 1e-3 };
  const opts = { weightSampling: { sampling: 'gradient' as const, n: 1, seed: 0 }, inputDirections: 4 };
  const t0 = now();
  measureBatch(engine, x, y, [group], opts);
  return now() - t0;
}

/**
 * Every timing of one batch size, taken in rounds (step, each group, each profile, in turn), so
 * that a change of load on the machine hits them alike; two rounds of warm-up first. Returns the
 * median of each named time.
 */
function timeRounds(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, runs: number): Map<string, number> {
  const opt = tf.train.sgd(0.01);
  const loss = perExampleLoss('categoricalCrossentropy');
  const times = new Map<string, number[]>();
  const add = (k: string, ms: number) => times.set(k, [...(times.get(k) ?? []), ms]);
  for (let round = 0; round < runs + 2; round++) {
    const keep = round >= 2 ? add : () => {};
    const t0 = now();
    trainStep(model, opt, loss, x, y);
    keep('step', now() - t0);
    for (const { group } of GROUPS) {
      keep(group, groupOnce(model, x, y, group));
      const stages = profileOnce(model, x, y, group);
      for (const [k] of STAGE_LABELS) keep(`${group}.${k}`, stages[k]);
    }
    if (x.shape[0] > SUBSET_SIZE) keep('subset', subsetOnce(model, x, y));
  }
  opt.dispose();
  return new Map([...times].map(([k, v]) => [k, median(v)]));
}

const STAGE_LABELS: [keyof Stages, string][] = [
  ['pass', 'pass'],
  ['gramOnDevice', 'Gram on device'],
  ['readBack', 'read-back'],
  ['eigenSolve', 'eigen-solve (host)'],
  ['rest', 'rest (host)'],
];

/** Rows `sweep <group>: total` and `sweep <group>: <stage>` for every backend, model and batch. */
export async function runSweep(opts: SweepOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const log = opts.log ?? (() => {});
  for (const backend of opts.backends) {
    await registerWasm(backend);
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} unavailable`);
    installOverrides(backend);
    for (const modelName of opts.models) {
      for (const batch of opts.batches) {
        const data = syntheticClusters({ size: batch, seed: 1 });
        const model = buildModel(modelName, { inputShape: data.inputShape, classes: data.classes, seed: 1 });
        const { x, y } = batchTensors(data, Int32Array.from({ length: batch }, (_, i) => i));
        const t = timeRounds(model, x, y, opts.runs);
        const stepMs = t.get('step')!;
        const row = (what: string, ms: number): BenchRow => ({ backend, model: modelName, batch, what, ms, ratioToStep: ms / stepMs });
        rows.push(row('sweep: train step', stepMs));
        for (const { group, label } of GROUPS) {
          const total = t.get(group)!;
          rows.push(row(`sweep ${label}: group`, total));
          for (const [k, name] of STAGE_LABELS) rows.push(row(`sweep ${label}: ${name}`, t.get(`${group}.${k}`)!));
          log(`${backend} ${modelName} b=${batch}: ${label} ${(total / stepMs).toFixed(2)}× step (${total.toFixed(1)} / ${stepMs.toFixed(1)} ms)`);
        }
        if (t.has('subset')) rows.push(row(`sweep per-example: approximation, sub-batches of ${SUBSET_SIZE}`, t.get('subset')!));
        tf.dispose([x, y]);
        model.dispose();
      }
    }
  }
  return rows;
}

/** The sweep as a table: one line per (backend, model, row kind), one column per batch size, "ms (× step)". */
export function formatSweep(rows: BenchRow[]): string {
  const sweep = rows.filter((r) => r.what.startsWith('sweep'));
  const batches = [...new Set(sweep.map((r) => r.batch))].sort((a, b) => a - b);
  const keys = [...new Set(sweep.map((r) => `${r.backend}\u0000${r.model}\u0000${r.what}`))];
  const head = ['backend', 'model', 'what', ...batches.map((b) => `b=${b}`)];
  const body = keys.map((k) => {
    const [backend, model, what] = k.split('\u0000') as [string, string, string];
    const cells = batches.map((b) => {
      const r = sweep.find((q) => q.backend === backend && q.model === model && q.what === what && q.batch === b);
      return r?.ms == null ? '—' : `${r.ms.toFixed(r.ms < 10 ? 2 : 1)} (${r.ratioToStep!.toFixed(2)}×)`;
    });
    return [backend, model, what.replace(/^sweep /, ''), ...cells];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
