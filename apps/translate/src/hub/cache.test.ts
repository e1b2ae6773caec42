import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseHubId, repoFolderName } from '@encouraging-loss/translate';
import { describe, expect, it } from 'vitest';
import { hubCacheDir } from './cache.js';

describe('hubCacheDir', () => {
  it('follows huggingface_hub: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME, ~/.cache', () => {
    const all = {
      HF_HUB_CACHE: '/a',
      HUGGINGFACE_HUB_CACHE: '/b',
      HF_HOME: '/c',
      XDG_CACHE_HOME: '/d',
    };
    expect(hubCacheDir(all)).toBe('/a');
    expect(hubCacheDir({ ...all, HF_HUB_CACHE: undefined })).toBe('/b');
    expect(hubCacheDir({ HF_HOME: '/c', XDG_CACHE_HOME: '/d' })).toBe('/c/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/d' })).toBe('/d/huggingface/hub');
    expect(hubCacheDir({})).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
    expect(hubCacheDir({ HF_HOME: '~/hf' })).toBe(join(homedir(), 'hf', 'hub'));
  });

  it('names a repository folder models--ORG--NAME', () => {
    expect(repoFolderName('Helsinki-NLP/opus-mt-en-de')).toBe('models--Helsinki-NLP--opus-mt-en-de');
  });
});

describe('parseHubId', () => {
  it('reads ORG/NAME and an optional @revision', () => {
    expect(parseHubId('Helsinki-NLP/opus-mt-en-de')).toEqual({
      repo: 'Helsinki-NLP/opus-mt-en-de',
      revision: 'main',
    });
    expect(parseHubId('facebook/nllb-200-distilled-600M@refs/pr/3')).toEqual({
      repo: 'facebook/nllb-200-distilled-600M',
      revision: 'refs/pr/3',
    });
    expect(parseHubId('Xenova/opus-mt-en-de@v1.0')).toEqual({
      repo: 'Xenova/opus-mt-en-de',
      revision: 'v1.0',
    });
  });

  it('refuses paths, bad names and revisions that would leave refs/', () => {
    for (const spec of [
      './runs/ft',
      '/abs/path',
      'runs/ft/best',
      'opus-mt-en-de',
      'a--b/c',
      'a/b..c',
      'org/name@',
      'org/name@../../x',
      'org/name@refs//x',
      'org/name@/x',
      'C:\\models\\x',
    ]) {
      expect(parseHubId(spec), spec).toBeUndefined();
    }
  });
});
