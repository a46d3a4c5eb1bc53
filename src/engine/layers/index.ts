/** The per-example engine's layer rules, their table, and the model plan, for perExample.ts. */
export type { LayerBlock, Rows } from './block.js';
export { GRAM_TILE_ROWS, materializedBlock, symmetricFromTiles, takeRows } from './block.js';
export { type ModelPlan, type PlanStep, batchCoupledLayers, planModel } from './graph.js';
export type { BoundLayer, LayerCall, LayerRule } from './rule.js';
export { LAYER_RULES, ruleFor } from './table.js';
