/**
 * The report of a single run directory: its summary (summary.json, or recomputed from the trace
 * when the run did not finish), the same plots as a comparison for its one run (no bands), its
 * health findings, null metrics and configuration.
 */
import * as path from 'node:path';
import type { JsonValue, RunManifest } from '../trace/format.js';
import { formatSummary } from '../trace/summary.js';
import type { ReportDoc, Section } from './doc.js';
import type { ReportOptions } from './comparison.js';
import { readRunData, type RunData } from './runData.js';
import { limitsOf, type PolicyRuns, curvePlots, knobPlots, metricPlots, reductionText } from './runPlots.js';
import { colourScale } from './specs.js';
import { type RunEntry, dirLink, healthTable, nullsTable, summaryTable } from './tables.js';

/** The policy named in a run's config (`policy: "name"` or `policy: {name}`), if any. */
function policyName(config: JsonValue): string | null {
  const p = typeof config === 'object' && config !== null && !Array.isArray(config) ? config.policy : undefined;
  if (typeof p === 'string') return p;
  if (typeof p === 'object' && p !== null && !Array.isArray(p) && typeof p.name === 'string') return p.name;
  return null;
}

function configSection(m: RunManifest): Section {
  const model = typeof m.model === 'string'
    ? `\`\`\`\n${m.model}\n\`\`\``
    : m.model.map((l) => `- ${l.name} (${l.className}): ${l.params.toLocaleString('en-US')} parameters`).join('\n');
  return {
    title: 'Configuration',
    text: `Backend ${m.backend}; gradcond ${m.versions.gradcond}, tfjs ${m.versions.tfjs}, node ${m.versions.node}; seed ${m.seed ?? 'none'}; started ${m.startTime}.\n\n\`\`\`\n${JSON.stringify(m.config, null, 2)}\n\`\`\``,
    sections: [{ title: 'Model', text: model }],
  };
}

function summarySection(run: RunData): Section {
  const source = run.summaryFromFile ? '' : '**No summary.json** in the run directory (a run writes it when it ends): the summary below is recomputed from the trace.\n\n';
  const truncated = run.truncated ? 'The trace\'s last line was cut short (the process was killed while writing it) and is left out.\n\n' : '';
  const warnings = run.summary.warnings.map((w) => `- ${w}`).join('\n');
  const dead = run.outcome.status === 'dead' ? `**Dead run**: ${run.outcome.reason}.\n\n` : '';
  return {
    title: 'Summary',
    text: `${source}${truncated}${dead}${formatSummary(run.summary)[0]}${warnings ? `\n\nWarnings:\n\n${warnings}` : ''}`,
    table: summaryTable(run.summary),
  };
}

/** The report of the run in `dir` (see the module comment). */
export function runReport(dir: string, opts: ReportOptions = {}): ReportDoc {
  const limits = limitsOf(opts);
  const id = path.basename(path.resolve(dir));
  const data = readRunData(dir, limits, id);
  const label = policyName(data.manifest.config) ?? id;
  const groups: PolicyRuns[] = [{ policy: label, runs: [{ seed: String(data.manifest.seed ?? '—'), data }] }];
  const colours = colourScale([label]);
  const entry: RunEntry = { id, policy: label, seed: String(data.manifest.seed ?? '—'), dir: path.resolve(dir), data };
  const health = healthTable([entry]);
  const nulls = nullsTable([entry]);
  const sections: Section[] = [
    summarySection(data),
    { title: 'Training curves', text: reductionText(groups, limits) || undefined, plots: curvePlots(groups, colours, limits) },
    { title: 'Learning rate and batch size', plots: knobPlots(groups, colours) },
    { title: 'Metrics', text: 'Each metric against examples seen, one panel per metric with its own y scale.', plots: metricPlots(groups, colours, limits), sections: nulls ? [{ title: 'Null metrics', table: nulls }] : [] },
    { title: 'Health findings', text: health ? undefined : 'None: no dead gradient, loss spike, stalled loss or divergence was found.', table: health ?? undefined },
    configSection(data.manifest),
  ];
  return {
    title: `Run ${id}`,
    subtitle: `policy ${label} · status ${data.outcome.status} · ${dirLink(path.resolve(dir), path.resolve(opts.linkFrom ?? dir), dir)}`,
    sections,
  };
}
