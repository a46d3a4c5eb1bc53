/**
 * The Vega-Lite specs of the report's plots, built from plain rows. Every plot of one report
 * colours a policy the same way (`colourScale`), x axes say what they count, and bands say
 * what they span in the caption the builders write next to them.
 */
import type { TopLevelSpec } from 'vega-lite';

/** Tableau 10: distinct colours that stay apart for the colour-blind common cases. */
export const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

/** A fixed policy → colour mapping, shared by every plot of a report. */
export interface ColourScale {
  domain: string[];
  range: string[];
}

export function colourScale(labels: readonly string[]): ColourScale {
  return { domain: [...labels], range: labels.map((_, i) => PALETTE[i % PALETTE.length]!) };
}

/** One point of a policy's curve: the median over seeds and the band [lo, hi] (lo = hi = median for one run). */
export interface CurveRow {
  policy: string;
  x: number;
  median: number;
  lo: number;
  hi: number;
  /** Seeds the point is computed from. */
  n: number;
}

export interface AxisTitles {
  x: string;
  y: string;
}

const WIDTH = 420;
const HEIGHT = 240;

/** Colour by policy, with a legend when there are several. */
function colour(c: ColourScale) {
  return {
    field: 'policy', type: 'nominal' as const, title: 'policy', sort: c.domain,
    scale: { domain: c.domain, range: c.range },
    legend: c.domain.length > 1 ? {} : null,
  };
}

function xEncoding(title: string) {
  return { field: 'x', type: 'quantitative' as const, title };
}

export interface CurveOptions {
  rows: CurveRow[];
  titles: AxisTitles;
  colours: ColourScale;
  /** Draw the min–max band (several seeds). */
  band: boolean;
  /** Mark each point (sparse curves such as validation). */
  points?: boolean;
  /** y on a log scale (positive quantities spanning decades). */
  logY?: boolean;
}

/** Median lines with an optional min–max band, one colour per policy. */
export function curveSpec(o: CurveOptions): TopLevelSpec {
  const x = xEncoding(o.titles.x);
  const y = { type: 'quantitative' as const, title: o.titles.y, scale: o.logY ? { type: 'log' as const } : { zero: false } };
  const layers: object[] = [];
  if (o.band) {
    layers.push({ mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color: colour(o.colours) } });
  }
  layers.push({
    mark: o.points ? { type: 'line', point: { filled: true, size: 26 } } : { type: 'line' },
    encoding: { x, y: { ...y, field: 'median' }, color: colour(o.colours) },
  });
  return { width: WIDTH, height: HEIGHT, data: { values: o.rows }, layer: layers } as TopLevelSpec;
}

/** One knob's value over a run (one line per run), and the decisions that set it. */
export interface KnobRow {
  policy: string;
  seed: string;
  x: number;
  value: number;
}

export interface DecisionRow extends KnobRow {
  /** The tooltip: who changed what, when, and why. */
  tip: string;
}

export interface KnobOptions {
  lines: KnobRow[];
  decisions: DecisionRow[];
  titles: AxisTitles;
  colours: ColourScale;
  logY: boolean;
}

/** Step-after lines of a knob per run, with each decision as a point whose tooltip gives its reason. */
export function knobSpec(o: KnobOptions): TopLevelSpec {
  const x = xEncoding(o.titles.x);
  // A log axis labels every 1–9 × 10^k by default: too crowded for a 240-pixel plot.
  const y = { field: 'value', type: 'quantitative' as const, title: o.titles.y, scale: o.logY ? { type: 'log' as const } : { zero: false }, axis: { tickCount: 6 } };
  return {
    width: WIDTH, height: HEIGHT,
    layer: [
      {
        data: { values: o.lines },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: { x, y, color: colour(o.colours), detail: { field: 'seed', type: 'nominal' } },
      },
      {
        data: { values: o.decisions },
        mark: { type: 'point', filled: true, size: 36, opacity: 0.9, stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x, y, color: colour(o.colours),
          tooltip: { field: 'tip', type: 'nominal' },
          description: { field: 'tip', type: 'nominal' },
        },
      },
    ],
  } as TopLevelSpec;
}

/** One point of a sampled metric's curve for a policy. */
export interface MetricRow extends CurveRow {
  metric: string;
}

export interface MetricGroupOptions {
  rows: MetricRow[];
  /** The facets, in this order. */
  metrics: string[];
  xTitle: string;
  colours: ColourScale;
  band: boolean;
  /** Mark each point (few samples). */
  points: boolean;
}

/** Small multiples: one panel per metric of a group, each with its own y scale. */
export function metricGroupSpec(o: MetricGroupOptions): TopLevelSpec {
  const x = { ...xEncoding(o.xTitle), title: o.xTitle };
  const y = { type: 'quantitative' as const, title: null, scale: { zero: false } };
  const layers: object[] = [];
  if (o.band) layers.push({ mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color: colour(o.colours) } });
  layers.push({
    mark: o.points ? { type: 'line', point: { filled: true, size: 18 } } : { type: 'line' },
    encoding: { x, y: { ...y, field: 'median' }, color: colour(o.colours) },
  });
  return {
    data: { values: o.rows },
    facet: { field: 'metric', type: 'nominal', title: null, sort: o.metrics, header: { labelFontSize: 12, labelFontWeight: 'bold', labelPadding: 4 } },
    columns: Math.min(3, o.metrics.length),
    spec: { width: 230, height: 130, layer: layers },
    // Independent x axes: with one shared axis per column, Vega-Lite draws it under the empty cells of a short last row.
    resolve: { scale: { y: 'independent' }, axis: { x: 'independent' } },
  } as TopLevelSpec;
}
