/**
 * A user's CSV as a classification data set: a header row naming the columns, one example per
 * row, every column but the label column a numeric feature (finite decimal numbers only), the
 * label column integers 0..K−1 or class names (see labels.ts). Blank lines are skipped; every
 * other problem is a one-line UsageError naming the file, line and column.
 */
import { basename } from 'node:path';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { readDataFile, type FileRecord } from './files.js';
import { cellLabels, type ClassLabels } from './labels.js';

export interface CsvOptions {
  /** Name of the label column (default 'label'). */
  labelColumn?: string;
  /** Number of classes, when some are absent from the file. */
  classes?: number;
}

export interface TableData {
  dataset: Dataset;
  file: FileRecord;
  labels: ClassLabels;
  /** Feature names (CSV columns) in order, if the file has them. */
  features?: string[];
}

interface Row {
  cells: string[];
  line: number;
}

function records(path: string, text: string): Row[] {
  try {
    const rows = parse(text, { info: true, relax_column_count: true, skip_empty_lines: true, bom: true, trim: true }) as unknown as { record: string[]; info: { lines: number } }[];
    return rows.map((r) => ({ cells: r.record, line: r.info.lines }));
  } catch (err) {
    throw new UsageError(`${path}: malformed CSV (${(err as Error).message})`);
  }
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

/** A feature cell as a number; anything but a finite decimal is a UsageError. */
function cellValue(cell: string, path: string, line: number, column: string): number {
  const where = `${path}: line ${line}, column '${column}'`;
  if (NON_FINITE.test(cell)) throw new UsageError(`${where}: '${cell}' is not a finite number`);
  if (!DECIMAL.test(cell)) throw new UsageError(`${where}: ${cell === '' ? 'empty cell' : `'${cell}'`} is not a number`);
  const v = Number(cell);
  if (!Number.isFinite(Math.fround(v))) throw new UsageError(`${where}: '${cell}' is not a finite number in float32 (|x| > 3.4e38)`);
  return v;
}

function checkHeader(path: string, header: string[], labelColumn: string): number {
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw new UsageError(`${path}: column '${dup}' appears twice in the header row`);
  const at = header.indexOf(labelColumn);
  if (at < 0) {
    throw new UsageError(`${path}: no label column '${labelColumn}' in the header row (columns: ${header.slice(0, 8).join(', ')}${header.length > 8 ? ', …' : ''}); a header row is required, and labelColumn names the label`);
  }
  if (header.length < 2) throw new UsageError(`${path}: no feature columns besides the label column '${labelColumn}'`);
  return at;
}

export function readCsv(path: string, opts: CsvOptions = {}): TableData {
  const { raw, record } = readDataFile(path, 'CSV file');
  const rows = records(path, raw.toString('utf8'));
  if (rows.length === 0) throw new UsageError(`${path}: empty file (a header row and at least one data row are needed)`);
  const [head, ...body] = rows;
  if (body.length === 0) throw new UsageError(`${path}: no data rows after the header`);
  const labelColumn = opts.labelColumn ?? 'label';
  const labelAt = checkHeader(path, head.cells, labelColumn);
  const features = head.cells.filter((_, j) => j !== labelAt);
  const d = features.length;
  const x = new Float32Array(body.length * d);
  const labelCells: string[] = [];
  body.forEach((row, i) => {
    if (row.cells.length !== head.cells.length) throw new UsageError(`${path}: line ${row.line} has ${row.cells.length} fields but the header has ${head.cells.length}`);
    let k = 0;
    row.cells.forEach((cell, j) => {
      if (j !== labelAt) x[i * d + k++] = cellValue(cell, path, row.line, head.cells[j]);
    });
    if (row.cells[labelAt] === '') throw new UsageError(`${path}: line ${row.line}, column '${labelColumn}': empty label`);
    labelCells.push(row.cells[labelAt]);
  });
  const labels = cellLabels(labelCells, opts.classes, path, (i) => `line ${body[i].line}, column '${labelColumn}'`);
  const dataset: Dataset = { name: basename(path), inputShape: [d], classes: labels.classes, x, labels: labels.labels, size: body.length };
  return { dataset, file: record, labels, features };
}
