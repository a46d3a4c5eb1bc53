/** params: the number of trainable parameters, the baseline every NAS proxy study compares with. */
import { parameterCount } from '../../engine/params.js';
import type { Proxy } from './proxy.js';

export const params: Proxy = ({ model }) => ({ value: parameterCount(model) });
