/**
 * Reports: a comparison or run directory as one self-contained HTML page (plots inlined as SVG),
 * or its plots as SVG / PNG files. Build a ReportDoc with `comparisonReport` / `runReport` (or by
 * hand: any sections of text, tables and Vega-Lite plots), then `renderReport` or `writePlots`.
 */
export type { ReportDoc, ReportPlot, ReportTable, Section } from './doc.js';
export { plotsOf } from './doc.js';
export { renderReport } from './html.js';
export { renderPlot, type PlotFormat, type PlotOptions } from './plot.js';
export { comparisonReport, type ReportOptions } from './comparison.js';
export { runReport } from './run.js';
export { dirKind, reportOf, reportOfAll, type DirKind } from './source.js';
export { REPORT_FORMATS, type ReportFormat, writeHtml, writePlots } from './write.js';
export { DEFAULT_LIMITS, type PlotLimits } from './runPlots.js';
export { binMedians, changePoints, thin } from './downsample.js';
export { aggregateSeeds } from './aggregate.js';
