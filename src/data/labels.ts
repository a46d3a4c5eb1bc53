/**
 * Class labels from a user's file, as class indices 0..K−1. Two forms, each with one rule:
 *  - integers: used as they are; K is `classes` when declared, else max + 1, and then every
 *    class 0..K−1 must occur (a gap usually means the column is not a class label);
 *  - names (any label that is not an integer): mapped to indices in sorted order (JavaScript's
 *    default string sort, by UTF-16 code units), so 'cat' < 'dog' < 'emu' are 0, 1, 2.
 * A single class is refused: nothing to classify.
 */
import { UsageError } from '../errors.js';

export interface ClassLabels {
  labels: Int32Array;
  classes: number;
  /** Class names by index, when the labels were names. */
  classNames?: string[];
  /** How labels became indices, for the run manifest. */
  rule: string;
}

/** Where example i came from, for messages ("line 7", "batch 2, example 5"). */
export type Locate = (i: number) => string;

function atLeastTwo(distinct: number, file: string, only: string): void {
  if (distinct < 2) throw new UsageError(`${file}: only one class (${only}) in the labels; classification needs at least 2`);
}

/** Integer labels, checked against `declared` classes or, without it, for gaps. */
export function indexLabels(values: ArrayLike<number>, declared: number | undefined, file: string, locate: Locate): ClassLabels {
  const labels = new Int32Array(values.length);
  let max = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const range = declared !== undefined ? `0..${declared - 1} (classes: ${declared})` : 'integers ≥ 0';
    if (!Number.isInteger(v) || v < 0 || (declared !== undefined && v >= declared)) {
      throw new UsageError(`${file}: ${locate(i)}: label ${v} is out of range: class indices are ${range}`);
    }
    labels[i] = v;
    max = Math.max(max, v);
  }
  const seen = new Set(labels);
  atLeastTwo(seen.size, file, `label ${labels[0]}`);
  const classes = declared ?? max + 1;
  if (declared === undefined && seen.size < classes) {
    const missing = Array.from({ length: classes }, (_, c) => c).filter((c) => !seen.has(c));
    throw new UsageError(`${file}: labels go up to ${max} but class ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? '…' : ''} never occurs; declare classes: ${classes} if that is intended`);
  }
  const rule = declared !== undefined ? `integer class indices, ${declared} classes declared` : `integer class indices 0..${max}`;
  return { labels, classes, rule };
}

/** Labels as names, mapped to indices in sorted order. */
export function nameLabels(values: string[], declared: number | undefined, file: string): ClassLabels {
  const classNames = [...new Set(values)].sort();
  atLeastTwo(classNames.length, file, `'${classNames[0]}'`);
  if (declared !== undefined && declared !== classNames.length) {
    throw new UsageError(`${file}: classes: ${declared} declared but the labels name ${classNames.length} classes (${classNames.slice(0, 5).join(', ')}${classNames.length > 5 ? '…' : ''})`);
  }
  const index = new Map(classNames.map((name, i) => [name, i]));
  const labels = Int32Array.from(values, (v) => index.get(v)!);
  return { labels, classes: classNames.length, classNames, rule: 'class names mapped to indices in sorted order (UTF-16 code units)' };
}

const INTEGER = /^[+-]?\d+$/;

/** CSV label cells: all integers → indexLabels, otherwise names. */
export function cellLabels(cells: string[], declared: number | undefined, file: string, locate: Locate): ClassLabels {
  return cells.every((c) => INTEGER.test(c)) ? indexLabels(cells.map(Number), declared, file, locate) : nameLabels(cells, declared, file);
}
