/**
 * The rule table: one line per weighted layer kind with an exact batched per-example rule.
 * A new kind is one file (see rule.ts) plus one line here. Layers without trainable weights need
 * no rule (the pass applies them as they are); a weighted layer whose class is not here sends the
 * model to the exact per-example loop, with the layer named in the reason.
 */
import { batchNormalizationRule } from './batchNormalization.js';
import { conv2dRule } from './conv2d.js';
import { denseRule } from './dense.js';
import { depthwiseConv2dRule } from './depthwiseConv2d.js';
import type { LayerRule } from './rule.js';
import { separableConv2dRule } from './separableConv2d.js';

export const LAYER_RULES: readonly LayerRule[] = [
  denseRule,
  conv2dRule,
  depthwiseConv2dRule,
  separableConv2dRule,
  batchNormalizationRule,
];

/** The rule for a tfjs class name, if there is one. */
export function ruleFor(className: string): LayerRule | undefined {
  return LAYER_RULES.find((r) => r.classNames.includes(className));
}

