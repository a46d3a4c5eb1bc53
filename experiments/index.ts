/**
 * The registry of the chapter-4 experiments: one definition file per experiment in this folder,
 * one line here. `gradcond experiment --list` shows them; src/experiments/ runs and analyses them.
 */
import type { DefinitionInput } from '../src/experiments/types.js';
import { control } from './control.js';
import { cost } from './cost.js';
import { fitness } from './fitness.js';
import { masks } from './masks.js';
import { speed } from './speed.js';
import { traces } from './traces.js';

export const EXPERIMENTS: readonly DefinitionInput[] = [traces, speed, masks, cost, control, fitness];
