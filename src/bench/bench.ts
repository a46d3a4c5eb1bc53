/**
 * `npm run bench`: what each piece costs relative to one ordinary training step of the same
 * model, batch and backend, measured in one process so that ratios are fair. Later work adds
 * rows as `BenchCase`s.
 */
import { tf } from '../backend/tf.js';
import { installOverrides, removeOverrides } from '../backend/overrides.js';
import { registerWasm } from '../backend/backend.js';
import { batchTensors } from '../data/dataset.js';
import { syntheticClusters } from '../data/synthetic.js';
import { perExampleLoss } from '../engine/losses.js';
import { buildModel } from '../models/zoo.js';
import { now, timeIt } from './timing.js';
import { trainStep } from './trainStep.js';

export interface BenchRow {
  backend: string;
  model: string;
  batch: number;
  what: string;
  /** Median milliseconds, or null when it cannot run (see note). */
  ms: number | null;
  /** ms over one training step of the same model, batch and backend with gradcond's kernels. */
  ratioToStep: number | null;
  note?: string;
}

export interface BenchContext {
  backend: string;
  modelName: string;
  batch: number;
  model: tf.LayersModel;
  x: tf.Tensor;
  y: tf.Tensor;
  /** Median ms of one training step with the default (override) kernels. */
  stepMs: number;
  runs: number;
}

/** A benchmark case adds rows for one (backend, model, batch); it runs with the overrides on. */
export type BenchCase = (ctx: BenchContext) => Promise<Omit<BenchRow, 'backend' | 'model' | 'batch' | 'ratioToStep'>[]>;


export interface BenchOptions {
  backends: string[];
  models: string[];
  batch: number;
  runs: number;
  /** Seconds above which a stock step is timed once instead of `runs` times (stock cpu convs). */
  slowStepS: number;
  log?: (line: string) => void;
  /** Rows beyond the training step (metric groups, engine paths). */
  cases?: BenchCase[];
}

/** Median ms of one training step (SGD), timed once when the first step takes over `slowStepS`. */
export async function stepTiming(ctx: Pick<BenchContext, 'model' | 'x' | 'y' | 'runs'>, slowStepS: number): Promise<number> {
  const opt = tf.train.sgd(0.01);
  const loss = perExampleLoss('categoricalCrossentropy');
  const step = () => trainStep(ctx.model, opt, loss, ctx.x, ctx.y);
  const t0 = now();
  step(); // first call: kernel warm-up; if it is very slow, one more call is the measurement
  const first = now() - t0;
  const { ms } = first > slowStepS * 1000 ? await timeIt(step, { warmup: 0, runs: 1 }) : await timeIt(step, { warmup: 1, runs: ctx.runs });
  opt.dispose();
  return ms;
}

export async function runBench(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const log = opts.log ?? (() => {});
  for (const backend of opts.backends) {
    await registerWasm(backend);
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} unavailable`);
    await tf.ready();
    for (const modelName of opts.models) {
      const data = syntheticClusters({ size: opts.batch, seed: 1 });
      const model = buildModel(modelName, { inputShape: data.inputShape, classes: data.classes, seed: 1 });
      const { x, y } = batchTensors(data, Int32Array.from({ length: opts.batch }, (_, i) => i));
      const base = { backend, modelName, batch: opts.batch, model, x, y, runs: opts.runs };
      const row = (what: string, ms: number | null, stepMs: number | null, note?: string): BenchRow => ({
        backend, model: modelName, batch: opts.batch, what, ms,
        ratioToStep: ms !== null && stepMs ? ms / stepMs : null, ...(note ? { note } : {}),
      });

      removeOverrides(backend);
      let stockMs: number | null = null;
      let stockNote: string | undefined;
      try {
        stockMs = await stepTiming(base, opts.slowStepS);
      } catch (err) {
        stockNote = `cannot run: ${(err as Error).message.split('\n')[0]}`;
      }
      const installed = installOverrides(backend);
      const stepMs = await stepTiming(base, opts.slowStepS);
      rows.push(row('train step, stock kernels', stockMs, stepMs, stockNote));
      rows.push(row('train step, gradcond kernels', stepMs, stepMs, installed.length ? `overrides: ${installed.join(', ')}` : 'no overrides'));
      log(`${backend} ${modelName}: step ${stepMs.toFixed(1)} ms (stock ${stockMs === null ? 'n/a' : stockMs.toFixed(1)} ms)`);

      const ctx: BenchContext = { ...base, stepMs };
      for (const benchCase of opts.cases ?? []) {
        for (const r of await benchCase(ctx)) rows.push(row(r.what, r.ms, stepMs, r.note));
      }
      tf.dispose([x, y]);
      model.dispose();
    }
  }
  return rows;
}

export function formatTable(rows: BenchRow[]): string {
  const head = ['backend', 'model', 'batch', 'what', 'ms', '× step', 'note'];
  const body = rows.map((r) => [
    r.backend, r.model, String(r.batch), r.what,
    r.ms === null ? '—' : r.ms.toFixed(r.ms < 10 ? 2 : 1),
    r.ratioToStep === null ? '—' : r.ratioToStep.toFixed(r.ratioToStep < 10 ? 3 : 1),
    r.note ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** One line per model: the default step on each backend against the stock cpu step. */
export function speedups(rows: BenchRow[]): string[] {
  const lines: string[] = [];
  for (const model of new Set(rows.map((r) => r.model))) {
    const stockCpu = rows.find((r) => r.model === model && r.backend === 'cpu' && r.what === 'train step, stock kernels')?.ms;
    if (!stockCpu) continue;
    for (const r of rows.filter((q) => q.model === model && q.what === 'train step, gradcond kernels' && q.ms)) {
      lines.push(`${model}: ${r.backend} + gradcond kernels ${r.ms!.toFixed(1)} ms per step, ${(stockCpu / r.ms!).toFixed(1)}× faster than stock cpu (${stockCpu.toFixed(0)} ms)`);
    }
  }
  return lines;
}
