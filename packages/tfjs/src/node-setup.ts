import * as tf from '@tensorflow/tfjs-core';

// tfjs-core prints a "use tfjs-node" banner on the cpu backend in Node (these tests never use tfjs-node). PROD
// silences it; IS_TEST would also switch on tfjs's per-kernel leak check, which counts the tensors a customGrad
// forward saves for its backward as leaked (the leak tests below count tensors after the fact instead).
tf.env().set('PROD', true);
