import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EncouragingLossSession } from '@encouraging-loss/onnxruntime-web/session';
import * as ort from 'onnxruntime-web';

ort.env.wasm.numThreads = 1;

/**
 * The expected per-token losses, computed in Node without the page: onnxruntime-web (Node build, wasm EP) runs the
 * exported encoder and merged decoder directly (teacher-forced: no cache, `use_cache_branch` false), and
 * `@encouraging-loss/onnxruntime-web` sessions compute the losses with `reduction: 'none'`.
 */
export async function referenceLosses(
  folder: string,
  sourceIds: number[],
  targetIds: number[],
  lossOptions: Record<string, object>,
): Promise<Record<string, number[]>> {
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
  const encoder = await ort.InferenceSession.create(readFileSync(join(folder, 'onnx', 'encoder_model.onnx')));
  const decoder = await ort.InferenceSession.create(
    readFileSync(join(folder, 'onnx', 'decoder_model_merged.onnx')),
  );
  const ids = (values: number[]) =>
    new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
  const attentionMask = ids(sourceIds.map(() => 1));
  const { last_hidden_state } = await encoder.run({
    input_ids: ids(sourceIds),
    attention_mask: attentionMask,
  });
  const heads = config.decoder_attention_heads;
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, config.d_model / heads]);
  const feeds: Record<string, ort.Tensor> = {
    input_ids: ids([config.decoder_start_token_id, ...targetIds.slice(0, -1)]),
    encoder_hidden_states: last_hidden_state,
    encoder_attention_mask: attentionMask,
    use_cache_branch: new ort.Tensor('bool', [false], [1]),
  };
  for (let i = 0; i < config.decoder_layers; i++) {
    for (const part of ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value'])
      feeds[`past_key_values.${i}.${part}`] = empty();
  }
  const { logits } = await decoder.run(feeds);
  const targets = ids(targetIds);
  const losses: Record<string, number[]> = {};
  for (const [name, options] of Object.entries(lossOptions)) {
    const session = await EncouragingLossSession.create({ ...options, reduction: 'none' }, {}, ort);
    losses[name] = Array.from((await session.run(logits, targets)).loss.data as Float32Array);
    await session.release();
  }
  await Promise.all([encoder.release(), decoder.release()]);
  return losses;
}
