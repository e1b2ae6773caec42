export {
  checkTokenizer,
  copyTokenizer,
  findWeights,
  generationConfig,
  type LoadModelOptions,
  loadModel,
  loadModelTokenizer,
  loadWeights,
  modelTensorNames,
  readConfig,
  readModelConfig,
  readWeights,
  saveModel,
  TOKENIZER_FILES,
  WEIGHT_FILES,
} from './checkpoint/model-folder.js';
export { type NamedTensor, readSafetensors, writeSafetensors } from './checkpoint/safetensors.js';
export {
  type DataFormat,
  decodeText,
  formatOfName,
  formatTsv,
  jsonErrorLocation,
  parallelFiles,
  parseJson,
  parseParallelFiles,
  parseParallelText,
  type ReadOptions,
  type ReadResult,
  requirePairs,
  type SentencePair,
} from './data/data.js';
export { describeSystemError, invalidData, invalidOption, ioError, isSystemError, withIo } from './errors.js';
export { corpusBleu } from './evaluation/bleu.js';
export { type BootstrapResult, pairedBootstrap } from './evaluation/bootstrap.js';
export { corpusChrf } from './evaluation/chrf.js';
export { BLEU, CHRF } from './evaluation/corpus-metrics.js';
export { type Score, scoreCorpus } from './evaluation/score.js';
export {
  type ExampleLanguages,
  type ExportOptions,
  type ExportResult,
  type ExternalDataOption,
  exampleLanguages,
  exportModelFolder,
  portableTokenizerJson,
  type QuantizeOption,
} from './export/export-folder.js';
export { OnnxTranslator } from './export/onnx-translator.js';
// The Hugging Face Hub client (fetch + Web Crypto; Cache API / OPFS / memory blob stores): its list is hub/index.ts.
export * from './hub/index.js';
export { attachLora, type LoraSettings, resolveLoraSettings, trainableParams } from './lora/lora.js';
export {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  type AdapterConfig,
  isAdapterFolder,
  loadAdapter,
  mergeAdapterFolder,
  readAdapterConfig,
  saveAdapter,
  saveMergedModel,
} from './lora/peft-folder.js';
export { type MarianConfig, makeConfig, parseConfig } from './model/config.js';
export { padBatch, translateIds } from './model/decode.js';
export { blockedMatMul, experimental_setPackedProduct } from './model/kernels/gemm.js';
export {
  experimental_setKernelPool,
  type KernelWorker,
  type SpawnKernelWorker,
} from './model/kernels/kernel-pool.js';
export { registerAppKernels } from './model/kernels/register-all.js';
export { experimental_setAppKernels } from './model/kernels/switch.js';
export { MarianModel } from './model/marian.js';
export { loadM2M100Folder } from './models/m2m100/checkpoint.js';
export { greedyGenerate } from './models/m2m100/generation.js';
export type { M2M100Model } from './models/m2m100/modeling.js';
export type { M2M100FamilyTokenizer } from './models/m2m100/tokenization.js';
export {
  createModel,
  MODEL_FAMILIES,
  type ModelFamily,
  modelFamily,
  type Seq2SeqConfig,
  type Seq2SeqModel,
  type TokenizerOptions,
} from './models/registry.js';
export { Rng } from './rng.js';
export {
  type DirectoryHandleLike,
  DirectoryHandleStore,
  type FileHandleLike,
  type WritableLike,
} from './store/directory-handle-store.js';
export {
  type Folder,
  folderPath,
  type MemoryFolder,
  memoryFolder,
  type ReadFolderOptions,
  readFolder,
  readFolderJson,
  type WritableFolder,
  type WriteFolderOptions,
  writeFolder,
} from './store/folder.js';
export { HttpStore, type HttpStoreOptions } from './store/http-store.js';
export { MemoryStore } from './store/memory-store.js';
export { type FileData, type ModelStore, readText, type StoreCallOptions } from './store/model-store.js';
export { EOS_ID, loadTokenizer, PAD_ID, saveTokenizer, trainBpe, UNK_ID } from './tokenizers/bpe.js';
export { loadFolderTokenizer, tokenizerKind } from './tokenizers/load.js';
export { loadMarianTokenizer } from './tokenizers/marian.js';
export type { SubwordTokenizer } from './tokenizers/tokenizer.js';
export {
  type BackendName,
  backendThreads,
  type InitBackendOptions,
  initBackend,
  kernelThreads,
  type WasmPaths,
} from './training/backend.js';
export { modelGradients } from './training/backprop.js';
export { type FineTuneOptions, type FineTuneResult, fineTune } from './training/fine-tune.js';
export {
  IGNORE_INDEX,
  type LossKind,
  type LossParts,
  type LossSettings,
  lossOptions,
  projectedLossWithGrad,
  projectedTokenLoss,
} from './training/loss.js';
export { ADAM, HostAdam } from './training/optimizer.js';
export {
  accumulateGradients,
  batchTensors,
  checkpointFiles,
  checkpointName,
  type Example,
  encodePairs,
  forcedBosTokenId,
  type GradientSettings,
  initialState,
  type LoopHooks,
  type LoopSettings,
  learningRate,
  type MetricsRecord,
  makeBatches,
  momentTensors,
  restoreMoments,
  type ScheduleSettings,
  type SentenceScore,
  type StepProgress,
  scheduleDefaults,
  scoreExamples,
  type TrainingState,
  trainingStep,
  trainLoop,
  translateTexts,
  type ValidScores,
  validate,
} from './training/trainer.js';
