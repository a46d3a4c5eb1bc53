/**
 * A variant's grid as run specs: every block expanded into the product of its axes, one run spec
 * per cell (src/compare/runSpec.ts), each with a readable id that says where it sits:
 *
 *     fc-relu.d4.w64.b32.lr0.05.constant.s0        (architecture, depth, width, batch, rate, policy, seed)
 *     fc-relu.d4.w64.b32.lr0.05.constant.mask0.1.s0  (a block that varies the metric options)
 *
 * A run two blocks both define (same id, same spec) is planned once and belongs to both; the
 * same id with a different spec (a block overriding a setting) gets the block's name appended.
 * Runs come out seed-major within each block, so that an interrupted experiment has covered
 * every cell of the first seeds.
 */
import { parseRunSpec, type Budget, type RunSpec } from '../compare/runSpec.js';
import { UsageError } from '../errors.js';
import { ZOO } from '../models/zoo.js';
import { getPolicy, withRunLength } from '../../policies/index.js';
import type { ArchitectureAxis, Block, Cell, MetricsAxis, PlannedExperimentRun, Settings, Variant } from './types.js';

/** Where run directories go inside the experiment directory. */
export const RUNS_DIR = 'runs';

/** The run's length for schedules that need one (cosine's `total`), when the budget fixes it. */
export function runLength(b: Budget, batchSize: number): { total: number; unit: 'step' | 'epoch' } | null {
  if (b.kind === 'epochs') return { total: b.value, unit: 'epoch' };
  if (b.kind === 'steps') return { total: b.value, unit: 'step' };
  if (b.kind === 'examples') return { total: Math.ceil(b.value / batchSize), unit: 'step' };
  return null; // a time budget: the definition gives the schedule's total itself
}

/** Metric options of a cell: the settings', then the axis' (its keys win; `every` and `budget` exclude each other). */
function metricsOf(settings: Settings, axis: MetricsAxis | null): Record<string, unknown> {
  if (!axis) return settings.metrics;
  const base = { ...settings.metrics };
  if ('every' in axis.options) delete base.budget;
  if ('budget' in axis.options) delete base.every;
  return { ...base, ...axis.options };
}

function checkNames(block: Block): void {
  for (const a of block.architectures) {
    if (!Object.hasOwn(ZOO, a.zoo)) throw new UsageError(`block '${block.name}': unknown model '${a.zoo}': choose one of ${Object.keys(ZOO).join(', ')}`);
  }
  for (const p of block.policies) for (const part of p.name.split('+')) getPolicy(part.trim());
  const labels = (xs: { label?: string; name?: string }[]) => xs.map((x) => x.label ?? x.name!);
  for (const [what, list] of [['architecture', labels(block.architectures)], ['policy', labels(block.policies)], ['metrics', labels(block.metrics ?? [])]] as const) {
    const dup = list.find((l, i) => list.indexOf(l) !== i);
    if (dup !== undefined) throw new UsageError(`block '${block.name}': the ${what} label '${dup}' is used twice: give each entry its own label`);
  }
}

const axisOr = <T>(own: T[] | undefined, block: T[] | undefined): (T | null)[] => own ?? block ?? [null];

/** The id of a cell (see the module comment). */
export function cellId(c: Omit<Cell, 'block'>, variesMetrics: boolean): string {
  const parts = [
    c.architecture,
    c.depth === null ? null : `d${c.depth}`,
    c.width === null ? null : `w${c.width}`,
    `b${c.batchSize}`,
    `lr${c.learningRate}`,
    c.policy,
    variesMetrics ? c.metrics : null,
    `s${c.seed}`,
  ];
  return parts.filter((p) => p !== null).join('.');
}

function specOf(id: string, cell: Cell, arch: ArchitectureAxis, settings: Settings, policy: Block['policies'][number], metrics: Record<string, unknown>): RunSpec {
  const length = runLength(settings.budget, cell.batchSize);
  const options = length ? withRunLength(policy.name, policy.options, length) : policy.options;
  return parseRunSpec({
    id,
    model: { zoo: arch.zoo, options: { ...arch.options, ...(cell.depth !== null ? { depth: cell.depth } : {}), ...(cell.width !== null ? { width: cell.width } : {}) } },
    data: settings.data,
    optimizer: settings.optimizer,
    learningRate: cell.learningRate,
    batchSize: cell.batchSize,
    loss: settings.loss,
    policy: { name: policy.name, ...(options !== undefined ? { options } : {}) },
    seed: cell.seed,
    budget: settings.budget,
    metrics,
    ...(settings.validateEvery !== undefined ? { validateEvery: settings.validateEvery } : {}),
    ...(settings.stopDeadAfter !== undefined ? { stopDeadAfter: settings.stopDeadAfter } : {}),
  });
}

/** One block's runs, seed-major. */
export function expandBlock(block: Block, variantSettings: Settings): { cell: Cell; spec: RunSpec }[] {
  checkNames(block);
  const settings: Settings = { ...variantSettings, ...block.settings } as Settings;
  const metricAxes = block.metrics ?? [null];
  const out: { cell: Cell; spec: RunSpec }[] = [];
  for (const seed of block.seeds)
    for (const arch of block.architectures)
      for (const depth of axisOr(arch.depths, block.depths))
        for (const width of axisOr(arch.widths, block.widths))
          for (const batchSize of block.batchSizes)
            for (const learningRate of block.learningRates)
              for (const policy of block.policies)
                for (const m of metricAxes) {
                  const cell: Cell = {
                    block: block.name, architecture: arch.label, zoo: arch.zoo, depth, width, batchSize, learningRate,
                    policy: policy.label ?? policy.name, metrics: m?.label ?? 'default', seed,
                  };
                  const id = cellId(cell, block.metrics !== undefined);
                  out.push({ cell, spec: specOf(id, cell, arch, settings, policy, metricsOf(settings, m)) });
                }
  return out;
}

/** Every run of a variant, each once (see the module comment). */
export function planExperiment(variant: Variant): PlannedExperimentRun[] {
  const byId = new Map<string, PlannedExperimentRun>();
  for (const block of variant.blocks) {
    for (const { cell, spec } of expandBlock(block, variant.settings)) {
      const same = byId.get(spec.id);
      if (same && JSON.stringify(same.spec) === JSON.stringify(spec)) {
        if (!same.blocks.includes(block.name)) same.blocks.push(block.name);
        continue;
      }
      const id = same ? `${spec.id}.${block.name}` : spec.id;
      if (byId.has(id)) throw new UsageError(`two runs of block '${block.name}' would both be '${id}': give its entries distinct labels`);
      byId.set(id, { id, cell, blocks: [block.name], spec: { ...spec, id }, dir: `${RUNS_DIR}/${id}` });
    }
  }
  return [...byId.values()];
}

/** The runs that belong to `block` (a run shared by blocks belongs to each). */
export function runsOfBlock<R extends PlannedExperimentRun>(runs: readonly R[], block: string): R[] {
  return runs.filter((r) => r.blocks.includes(block));
}
