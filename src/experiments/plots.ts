/**
 * The experiments' Vega-Lite plots, from plain rows: lines per network (a metric through
 * training), labelled scatter plots (a metric against training speed, the label the depth as in
 * the thesis' figures), a heat map (a grid of constant runs) and medians with min–max ranges
 * (policies). Colours come from the report's palette, fixed per label across a report.
 */
import type { TopLevelSpec } from 'vega-lite';
import { PALETTE } from '../report/specs.js';

const WIDTH = 420;
const HEIGHT = 240;

/** Label → colour, in the order given. */
export function colours(labels: readonly string[]): { domain: string[]; range: string[] } {
  return { domain: [...labels], range: labels.map((_, i) => PALETTE[i % PALETTE.length]!) };
}

/** A positive quantity spanning at least two decades reads better on a log axis. */
export function wantsLog(values: readonly number[]): boolean {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0 || finite.some((v) => v <= 0)) return false;
  return Math.max(...finite) / Math.min(...finite) >= 100;
}

const scale = (log: boolean) => (log ? { type: 'log' as const } : { zero: false });

/** One point of a network's line: the median over its seeds, and their min and max. */
export interface LineRow {
  line: string;
  x: number;
  median: number;
  lo: number;
  hi: number;
  n: number;
}

/** Median lines, one colour per network, with the min–max band over seeds when there are several. */
export function lineSpec(o: { rows: LineRow[]; x: string; y: string; lines: string[]; band: boolean; logY: boolean }): TopLevelSpec {
  const c = colours(o.lines);
  const color = { field: 'line', type: 'nominal' as const, title: 'network', sort: c.domain, scale: c, legend: o.lines.length > 1 ? {} : null };
  const x = { field: 'x', type: 'quantitative' as const, title: o.x };
  const y = { type: 'quantitative' as const, title: o.y, scale: scale(o.logY) };
  const layers: object[] = [];
  if (o.band) layers.push({ mark: { type: 'area', opacity: 0.15 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } });
  layers.push({ mark: { type: 'line' }, encoding: { x, y: { ...y, field: 'median' }, color } });
  return { width: WIDTH, height: HEIGHT, data: { values: o.rows }, layer: layers } as TopLevelSpec;
}

/** One run in a scatter plot. */
export interface ScatterRow {
  x: number;
  y: number;
  /** Colour: the architecture. */
  group: string;
  /** Drawn beside the point: the depth. */
  label: string;
  /** Tooltip: the run. */
  run: string;
}

/** Points coloured by architecture and labelled (the thesis labels each network by its depth). */
export function scatterSpec(o: { rows: ScatterRow[]; x: string; y: string; groups: string[]; title: string }): TopLevelSpec {
  const c = colours(o.groups);
  const logX = wantsLog(o.rows.map((r) => r.x));
  const x = { field: 'x', type: 'quantitative' as const, title: o.x, scale: scale(logX) };
  const y = { field: 'y', type: 'quantitative' as const, title: o.y, scale: { zero: false } };
  const color = { field: 'group', type: 'nominal' as const, title: 'architecture', sort: c.domain, scale: c };
  return {
    width: WIDTH, height: HEIGHT, title: { text: o.title, fontSize: 12 }, data: { values: o.rows },
    layer: [
      { mark: { type: 'point', filled: true, size: 40, opacity: 0.85 }, encoding: { x, y, color, tooltip: { field: 'run', type: 'nominal' } } },
      { mark: { type: 'text', dx: 7, dy: -6, fontSize: 9, align: 'left' }, encoding: { x, y, text: { field: 'label' }, color } },
    ],
  } as TopLevelSpec;
}

/** One cell of a heat map. */
export interface HeatRow {
  x: string;
  y: string;
  value: number | null;
  text: string;
}

/** A grid of cells coloured by value, each with its number written in. */
export function heatmapSpec(o: { rows: HeatRow[]; x: string; y: string; value: string; xOrder: string[]; yOrder: string[] }): TopLevelSpec {
  const x = { field: 'x', type: 'ordinal' as const, title: o.x, sort: o.xOrder };
  const y = { field: 'y', type: 'ordinal' as const, title: o.y, sort: o.yOrder };
  return {
    width: Math.min(WIDTH, 70 * o.xOrder.length), height: Math.min(HEIGHT, 40 * o.yOrder.length), data: { values: o.rows },
    layer: [
      { mark: 'rect', encoding: { x, y, color: { field: 'value', type: 'quantitative', title: o.value, scale: { scheme: 'viridis' } } } },
      { mark: { type: 'text', fontSize: 11 }, encoding: { x, y, text: { field: 'text' }, color: { value: 'white' } } },
    ],
  } as TopLevelSpec;
}

/** One entry of a range plot: the median over seeds and the min–max. */
export interface RangeRow {
  label: string;
  median: number;
  lo: number;
  hi: number;
}

/** Medians as dots with min–max rules, one row per entry, in the order given. */
export function rangeSpec(o: { rows: RangeRow[]; x: string; order: string[]; reference?: number }): TopLevelSpec {
  const y = { field: 'label', type: 'nominal' as const, title: null, sort: o.order };
  const x = { type: 'quantitative' as const, title: o.x, scale: { zero: false } };
  const layers: object[] = [
    { mark: { type: 'rule', color: '#4c78a8' }, encoding: { y, x: { ...x, field: 'lo' }, x2: { field: 'hi' } } },
    { mark: { type: 'point', filled: true, size: 50, color: '#4c78a8' }, encoding: { y, x: { ...x, field: 'median' } } },
  ];
  if (o.reference !== undefined) layers.unshift({ data: { values: [{ ref: o.reference }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#999' }, encoding: { x: { field: 'ref', type: 'quantitative' } } });
  return { width: WIDTH, height: Math.max(60, 18 * o.order.length), data: { values: o.rows }, layer: layers } as TopLevelSpec;
}
