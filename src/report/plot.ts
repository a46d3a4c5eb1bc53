/**
 * One plot, rendered: a Vega-Lite spec compiled by `vega-lite`, laid out and drawn to an SVG
 * string by `vega`'s headless View, then (for PNG) rasterised by resvg. Plots hold their data
 * inline: the loader refuses every URL, so rendering never touches the network or the disk.
 *
 * Tooltips. vega's SVG renderer writes a mark item's description as `aria-label` but has no
 * tooltip of its own (tooltips are a browser-side handler). Browsers show an SVG element's
 * `<title>` child as its tooltip, so for every mark with a `tooltip` encoding the description
 * vega wrote (Vega-Lite derives it from the tooltip fields unless a spec gives its own) is
 * copied into a `<title>`: a static SVG keeps its tooltips.
 */
import { Resvg, type RenderedImage } from '@resvg/resvg-js';
import * as vega from 'vega';
import type { LoggerInterface, Spec as VegaSpec } from 'vega';
import * as vl from 'vega-lite';
import type { Config, TopLevelSpec } from 'vega-lite';
import { UsageError } from '../errors.js';
import { logger } from '../log.js';
import { FONT_STACK, pngFontFile } from './fonts.js';

export type PlotFormat = 'svg' | 'png';

export interface PlotOptions {
  /** PNG only: the font file to draw text with (see fonts.ts). */
  font?: string;
  /** PNG only: pixels per SVG unit (default 2, sharp on high-density screens). */
  scale?: number;
  /** Names the plot in warnings (default: the spec's title). */
  name?: string;
}

/** The look every plot shares; a spec's own `config` overrides it key by key. */
export const BASE_CONFIG: Config = {
  font: FONT_STACK,
  background: 'white',
  padding: 8,
  view: { stroke: '#d9d9d9' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', titleColor: '#333', labelColor: '#444', gridColor: '#ececec', domainColor: '#999', tickColor: '#999' },
  // Full-colour legend symbols, though bands are drawn pale.
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', orient: 'bottom', direction: 'horizontal', columns: 4, symbolOpacity: 1 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 14, fontWeight: 'normal', anchor: 'start' },
  line: { strokeWidth: 1.75 },
};

function mergeConfig(own: Config | undefined): Config {
  const out: Record<string, unknown> = { ...BASE_CONFIG };
  for (const [k, v] of Object.entries(own ?? {})) {
    const base = out[k];
    const bothObjects = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof base === 'object' && base !== null;
    out[k] = bothObjects ? { ...base, ...v } : v;
  }
  return out as Config;
}

/**
 * A loader that refuses every URL: plots are self-contained. vega only logs a failed load and
 * draws the plot without its data, so the refusals are kept for the caller to throw.
 */
function offlineLoader(): { loader: vega.Loader; refused: string[] } {
  const refused: string[] = [];
  const refuse = async (uri: string): Promise<never> => {
    refused.push(uri);
    throw new UsageError(`refused ${uri}`);
  };
  return { loader: { load: refuse, sanitize: refuse, http: refuse, file: refuse }, refused };
}

/** A Vega logger that hands warnings and errors to gradcond's logger, naming the plot. */
function plotLogger(what: string): LoggerInterface {
  let level = vega.Warn;
  const self: LoggerInterface = {
    level(l?: number) {
      if (l === undefined) return level as never;
      level = l;
      return self as never;
    },
    error: (...args: readonly unknown[]) => (logger().error(`plot ${what}: ${args.join(' ')}`), self),
    warn: (...args: readonly unknown[]) => (logger().warn(`plot ${what}: ${args.join(' ')}`), self),
    info: () => self,
    debug: () => self,
  } as LoggerInterface;
  return self;
}

/** Names of the marks (at any depth) that carry a tooltip. */
function tooltipMarks(spec: VegaSpec): Set<string> {
  const names = new Set<string>();
  const visit = (marks: readonly unknown[] | undefined) => {
    for (const m of (marks ?? []) as { name?: string; encode?: Record<string, Record<string, unknown>>; marks?: unknown[] }[]) {
      if (m.name && Object.values(m.encode ?? {}).some((set) => set && 'tooltip' in set)) names.add(m.name);
      visit(m.marks);
    }
  };
  visit(spec.marks);
  return names;
}

/** Gives each item of the named marks a `<title>` child holding its `aria-label` (see the module comment). */
export function tooltipsToTitles(svg: string, markNames: ReadonlySet<string>): string {
  if (markNames.size === 0) return svg;
  // vega escapes <, >, & and " in attribute values. A non-group mark's container holds only its
  // items, self-closing elements, so the first </g> after it ends it.
  return svg.replace(/(<g class="mark-\w+ role-mark ([^"]+)"[^>]*>)(.*?)(<\/g>)/gs, (whole, open: string, classes: string, items: string, close: string) => {
    if (!classes.split(' ').some((c) => markNames.has(c))) return whole;
    const titled = items.replace(/<(\w+)([^>]*?) aria-label="([^"]*)"([^>]*?)\/>/g, '<$1$2 aria-label="$3"$4><title>$3</title></$1>');
    return open + titled + close;
  });
}

async function toSvg(spec: TopLevelSpec, name: string | undefined): Promise<string> {
  const what = JSON.stringify(name ?? (typeof spec.title === 'string' ? spec.title : spec.description ?? 'untitled'));
  const { spec: compiled } = vl.compile({ ...spec, config: mergeConfig(spec.config) } as TopLevelSpec, { logger: plotLogger(what) });
  const { loader, refused } = offlineLoader();
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader, logger: plotLogger(what) });
  try {
    const svg = await view.toSVG();
    if (refused.length) throw new UsageError(`plot ${what} refers to ${refused[0]}: report plots must hold their data inline (data.values)`);
    return tooltipsToTitles(svg, tooltipMarks(compiled));
  } finally {
    view.finalize();
  }
}

/**
 * Renders a Vega-Lite spec: an SVG string, or PNG bytes drawn by resvg with one font file
 * (fonts.ts). The spec's data must be inline.
 */
export async function renderPlot(spec: TopLevelSpec, format: 'svg', opts?: PlotOptions): Promise<string>;
export async function renderPlot(spec: TopLevelSpec, format: 'png', opts?: PlotOptions): Promise<Buffer>;
export async function renderPlot(spec: TopLevelSpec, format: PlotFormat, opts?: PlotOptions): Promise<string | Buffer>;
export async function renderPlot(spec: TopLevelSpec, format: PlotFormat, opts: PlotOptions = {}): Promise<string | Buffer> {
  if (format !== 'svg' && format !== 'png') throw new UsageError(`unknown plot format '${String(format)}': choose svg or png`);
  const fontFile = format === 'png' ? pngFontFile(opts.font) : undefined; // before the work: a missing font fails fast
  const svg = await toSvg(spec, opts.name);
  return format === 'svg' ? svg : rasterize(svg, { ...opts, font: fontFile }).asPng();
}

/** Draws an SVG with resvg and one font file (fonts.ts): the image, to encode or to inspect. */
export function rasterize(svg: string, opts: PlotOptions = {}): RenderedImage {
  const font = { fontFiles: [pngFontFile(opts.font)], loadSystemFonts: false };
  return new Resvg(svg, { font, fitTo: { mode: 'zoom', value: opts.scale ?? 2 } }).render();
}
