import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SETTINGS,
  finetuneHash,
  hubModelId,
  loraOptions,
  loraSettingsProblem,
  lossSettings,
  modelOptions,
  parseFinetuneHash,
  splitHash,
  trainingOptions,
} from './settings.js';

describe('the #finetune deep link', () => {
  it('reads every setting of the documented example', () => {
    const { settings, problems } = parseFinetuneHash(
      '#finetune?model=fx/&train=train.tsv&valid=valid.tsv&loss=cel&logEnd=0.5&labelSmoothing=0.1&steps=8&seed=3&autostart=1',
    );
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      ...DEFAULT_SETTINGS,
      model: 'fx/',
      train: 'train.tsv',
      valid: 'valid.tsv',
      loss: 'cel',
      logEnd: 0.5,
      labelSmoothing: 0.1,
      steps: 8,
      seed: 3,
      autostart: true,
    });
  });

  it('takes the defaults for what is left out, and a bare #finetune is all defaults', () => {
    expect(parseFinetuneHash('#finetune')).toEqual({ settings: { ...DEFAULT_SETTINGS }, problems: [] });
    const { settings } = parseFinetuneHash('#finetune?steps=4&lr=1e-3&loss=el');
    expect(settings).toEqual({ ...DEFAULT_SETTINGS, steps: 4, lr: 0.001, loss: 'el' });
    expect(settings.lr).toBe(1e-3);
  });

  it('names each bad or unknown parameter and keeps the good ones', () => {
    const { settings, problems } = parseFinetuneHash(
      '#finetune?steps=2.5&logEnd=0&loss=focal&seed=7&colour=red&autostart=maybe&model=',
    );
    expect(problems).toEqual([
      'steps must be an integer, got "2.5".',
      'logEnd must be a number above 0 to 1, got "0".',
      'loss must be one of ce, ls, el, cel, got "focal".',
      expect.stringContaining('Unknown parameter "colour"'),
      'autostart must be 1 or 0, got "maybe".',
      'model must be a URL, got an empty value.',
    ]);
    expect(settings).toEqual({ ...DEFAULT_SETTINGS, seed: 7 });
  });

  it('writes a hash that reads back to the same settings, naming only what differs from the defaults', () => {
    const settings = {
      ...DEFAULT_SETTINGS,
      model: 'models/a b/',
      train: 'data/train.tsv',
      loss: 'ls' as const,
      steps: 40,
      lr: 3e-4,
      warmup: 2,
      resume: true,
    };
    const hash = finetuneHash(settings);
    expect(hash).toBe(
      '#finetune?model=models%2Fa+b%2F&train=data%2Ftrain.tsv&loss=ls&steps=40&lr=0.0003&warmup=2&resume=1',
    );
    expect(parseFinetuneHash(hash)).toEqual({ settings, problems: [] });
    expect(finetuneHash({ ...DEFAULT_SETTINGS })).toBe('#finetune');
  });

  it('reads srcLang / tgtLang (an NLLB-200 / M2M100 pair) and writes them back; refuses a value that is no code', () => {
    const hash = '#finetune?model=fx/&srcLang=eng_Latn&tgtLang=deu_Latn&steps=3';
    const { settings, problems } = parseFinetuneHash(hash);
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      ...DEFAULT_SETTINGS,
      model: 'fx/',
      srcLang: 'eng_Latn',
      tgtLang: 'deu_Latn',
      steps: 3,
    });
    expect(finetuneHash(settings)).toBe(hash.replace('fx/', 'fx%2F'));
    expect(parseFinetuneHash(finetuneHash(settings)).settings).toEqual(settings);
    // Unknown codes pass here: the library checks them against the model's and names the valid ones.
    expect(parseFinetuneHash('#finetune?tgtLang=xx_Yyyy').settings.tgtLang).toBe('xx_Yyyy');
    expect(parseFinetuneHash('#finetune?srcLang=&tgtLang=de%20DE').problems).toEqual([
      'srcLang must be a language code such as eng_Latn, got "".',
      'tgtLang must be a language code such as deu_Latn, got "de DE".',
    ]);
  });

  it('reads lora (the rank) and its alpha, dropout and targets, and writes them back', () => {
    const hash =
      '#finetune?model=fx/&steps=3&lora=16&loraAlpha=32&loraDropout=0.05&loraTargets=q_proj,v_proj,fc1';
    const { settings, problems } = parseFinetuneHash(hash);
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      ...DEFAULT_SETTINGS,
      model: 'fx/',
      steps: 3,
      lora: 16,
      loraAlpha: 32,
      loraDropout: 0.05,
      loraTargets: ['q_proj', 'v_proj', 'fc1'],
    });
    expect(finetuneHash(settings)).toBe(
      '#finetune?model=fx%2F&steps=3&lora=16&loraAlpha=32&loraDropout=0.05&loraTargets=q_proj%2Cv_proj%2Cfc1',
    );
    expect(parseFinetuneHash(finetuneHash(settings))).toEqual({ settings, problems: [] });
    // The rank alone: alpha, dropout and targets are left to the library.
    expect(parseFinetuneHash('#finetune?lora=4')).toEqual({
      settings: { ...DEFAULT_SETTINGS, lora: 4 },
      problems: [],
    });
    // Spaces and empty items around the commas are the list's, not names.
    expect(parseFinetuneHash('#finetune?lora=4&loraTargets= q_proj, ,k_proj ').settings.loraTargets).toEqual([
      'q_proj',
      'k_proj',
    ]);
  });

  it('names each bad LoRA value as it names the other settings, and keeps the good ones', () => {
    const { settings, problems } = parseFinetuneHash(
      '#finetune?lora=0&loraAlpha=0&loraDropout=1&loraTargets=q_proj;v_proj&steps=2',
    );
    expect(problems).toEqual([
      'lora must be a number from 1 to 1000000, got "0".',
      'loraAlpha must be a number above 0 to 1000000, got "0".',
      'loraDropout must be a number from 0 to below 1, got "1".',
      'loraTargets must be a comma-separated list of module names such as q_proj,v_proj, got "q_proj;v_proj".',
    ]);
    expect(settings).toEqual({ ...DEFAULT_SETTINGS, steps: 2 });
    expect(parseFinetuneHash('#finetune?lora=2.5&loraDropout=-0.1&loraTargets=').problems).toEqual([
      'lora must be an integer, got "2.5".',
      'loraDropout must be a number from 0 to below 1, got "-0.1".',
      'loraTargets must be a comma-separated list of module names such as q_proj,v_proj, got "".',
    ]);
    expect(parseFinetuneHash('#finetune?lora=8&loraDropout=0.999').problems).toEqual([]);
  });

  it('refuses loraAlpha, loraDropout or loraTargets without lora=R', () => {
    expect(parseFinetuneHash('#finetune?loraAlpha=16&loraTargets=q_proj').problems).toEqual([
      'loraAlpha, loraTargets apply to LoRA only: give its rank with lora=R.',
    ]);
    expect(loraSettingsProblem({ ...DEFAULT_SETTINGS, loraDropout: 0.1 })).toBe(
      'loraDropout apply to LoRA only: give its rank with lora=R.',
    );
    expect(loraSettingsProblem({ ...DEFAULT_SETTINGS, lora: 2, loraDropout: 0.1 })).toBeUndefined();
    expect(loraSettingsProblem({ ...DEFAULT_SETTINGS })).toBeUndefined();
  });

  it('splits the view name from its query', () => {
    expect(splitHash('#finetune?steps=4')).toEqual(['finetune', 'steps=4']);
    expect(splitHash('#train')).toEqual(['train', '']);
    expect(splitHash('')).toEqual(['', '']);
  });
});

describe('the library settings of a run', () => {
  it('maps CE, LS-CE, EL and CEL onto the loss settings', () => {
    const base = { logEnd: 0.3, labelSmoothing: 0.2 };
    expect(lossSettings({ ...base, loss: 'ce' })).toEqual({ kind: 'ce', labelSmoothing: 0 });
    expect(lossSettings({ ...base, loss: 'ls' })).toEqual({ kind: 'ce', labelSmoothing: 0.2 });
    expect(lossSettings({ ...base, loss: 'el' })).toEqual({ kind: 'el', labelSmoothing: 0.2 });
    expect(lossSettings({ ...base, loss: 'cel' })).toEqual({ kind: 'cel', logEnd: 0.3, labelSmoothing: 0.2 });
  });

  it('leaves out the settings the link leaves out, so the library applies its defaults', () => {
    const options = trainingOptions({ ...DEFAULT_SETTINGS, steps: 4, maxTokens: 500 });
    expect(options).toEqual({
      loss: { kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 },
      maxSteps: 4,
      seed: 3,
      maxTokens: 500,
    });
    expect('lr' in options).toBe(false);
  });
});

describe('the LoRA options of a run', () => {
  it('passes what the link names to resolveLoraSettings, leaving the defaults to the library; none without lora', () => {
    expect(loraOptions({ ...DEFAULT_SETTINGS })).toBeUndefined();
    const rankOnly = loraOptions({ ...DEFAULT_SETTINGS, lora: 4 });
    expect(rankOnly).toEqual({ r: 4 });
    expect(rankOnly && 'alpha' in rankOnly).toBe(false);
    expect(
      loraOptions({
        ...DEFAULT_SETTINGS,
        lora: 16,
        loraAlpha: 32,
        loraDropout: 0.05,
        loraTargets: ['q_proj', 'fc2'],
      }),
    ).toEqual({ r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'fc2'] });
  });
});

describe('the loadModel options of a run', () => {
  it('passes the language pair the link names, and nothing for a link without one (a Marian model)', () => {
    expect(modelOptions({ ...DEFAULT_SETTINGS, srcLang: 'eng_Latn', tgtLang: 'deu_Latn' })).toEqual({
      srcLang: 'eng_Latn',
      tgtLang: 'deu_Latn',
    });
    expect(modelOptions({ ...DEFAULT_SETTINGS, tgtLang: 'de' })).toEqual({ tgtLang: 'de' });
    expect(modelOptions({ ...DEFAULT_SETTINGS })).toEqual({});
  });
});

describe('a Hugging Face Hub id in the model field', () => {
  it('tells ORG/NAME[@revision] from a URL or a path the page resolves', () => {
    expect(hubModelId('Helsinki-NLP/opus-mt-en-de')).toEqual({
      repo: 'Helsinki-NLP/opus-mt-en-de',
      revision: 'main',
    });
    expect(hubModelId(' Helsinki-NLP/opus-mt-en-de@v1.0 ')).toEqual({
      repo: 'Helsinki-NLP/opus-mt-en-de',
      revision: 'v1.0',
    });
    expect(hubModelId('facebook/nllb-200-distilled-600M@refs/pr/4')?.revision).toBe('refs/pr/4');
    for (const url of [
      'fx/',
      'models/x/',
      'models/opus-mt-tiny-hf/',
      './org/name',
      '/org/name',
      'https://host/org/name',
      'http://127.0.0.1:8080/models/x',
      'models/x/y',
      'name',
    ]) {
      expect(hubModelId(url), url).toBeUndefined();
    }
  });

  it('reads endpoint= and writes it back; refuses one that is not an http(s) URL', () => {
    const hash = '#finetune?model=Helsinki-NLP/opus-mt-tiny&endpoint=http://127.0.0.1:8123/&steps=2';
    const { settings, problems } = parseFinetuneHash(hash);
    expect(problems).toEqual([]);
    expect(settings).toMatchObject({
      model: 'Helsinki-NLP/opus-mt-tiny',
      endpoint: 'http://127.0.0.1:8123',
      steps: 2,
    });
    expect(parseFinetuneHash(finetuneHash(settings)).settings).toEqual(settings);
    expect(parseFinetuneHash('#finetune?endpoint=ftp://mirror').problems).toEqual([
      'endpoint must be an http(s) URL such as https://huggingface.co, got "ftp://mirror".',
    ]);
  });
});
