/**
 * The one door to TensorFlow.js: every module imports `tf` from here. It only re-exports
 * `@tensorflow/tfjs`; importing gradcond never changes tfjs' state (no backend is registered or
 * chosen until `useBackend` is called).
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
