import { describe, expect, it } from 'vitest';
import { checkModelFolder, EXPORTED_FILES } from './model-check.js';

const FOLDER = 'http://127.0.0.1:5180/models/en-de/';
const GOOD: Record<string, string> = {
  'config.json': '{"model_type":"marian"}',
  'tokenizer.json': '{"model":{}}',
  'tokenizer_config.json': '{"tokenizer_class":"MarianTokenizer"}',
  'onnx/encoder_model.onnx': 'graph',
  'onnx/decoder_model_merged.onnx': 'graph',
};

/** A fetch answering `files` (path in the folder → body) under FOLDER and 404 otherwise; records each request. */
function fakeFetch(files: Record<string, string>, type = 'application/json') {
  const requests: { url: string; method: string }[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    requests.push({ url, method: init?.method ?? 'GET' });
    const body = url.startsWith(FOLDER) ? files[url.slice(FOLDER.length)] : undefined;
    return body === undefined
      ? new Response('not found', { status: 404, statusText: 'Not Found' })
      : new Response(body, { status: 200, headers: { 'content-type': type } });
  }) as typeof fetch;
  return { fetcher, requests };
}

async function messageOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a rejection');
}

describe('checkModelFolder', () => {
  it('accepts a complete export, asking for the ONNX graphs by HEAD', async () => {
    const { fetcher, requests } = fakeFetch(GOOD);
    await expect(checkModelFolder(FOLDER, { fetch: fetcher })).resolves.toBeUndefined();
    expect(requests.map((r) => r.url).sort()).toEqual(EXPORTED_FILES.map((f) => `${FOLDER}${f}`).sort());
    for (const { url, method } of requests) expect(method).toBe(url.endsWith('.onnx') ? 'HEAD' : 'GET');
  });

  it('names the URL fetched, each missing file, what a folder holds and the commands that make one', async () => {
    const message = await messageOf(checkModelFolder(FOLDER, { fetch: fakeFetch({}).fetcher }));
    expect(message.split('\n')[0]).toBe(`No exported model at ${FOLDER}.`);
    for (const file of EXPORTED_FILES) expect(message).toContain(`• ${file}: 404 Not Found`);
    expect(message).toContain(
      'Expected an exported folder holding config.json, tokenizer.json, tokenizer_config.json, ' +
        'onnx/encoder_model.onnx and onnx/decoder_model_merged.onnx.',
    );
    expect(message).toContain('pnpm el-translate export --model MODEL_DIR --out runs/web-model');
    expect(message).toContain('pnpm playground -- --model runs/web-model');
    expect(message).not.toContain('tokenizer_class');
  });

  it('tells a trained (not exported) folder by its config.json without ONNX graphs', async () => {
    const trained = { 'config.json': GOOD['config.json'], 'tokenizer_config.json': '{}' };
    const message = await messageOf(checkModelFolder(FOLDER, { fetch: fakeFetch(trained).fetcher }));
    expect(message.split('\n')[0]).toBe(`The folder at ${FOLDER} is not a complete transformers.js export.`);
    expect(message).toContain('• tokenizer.json: 404 Not Found');
    expect(message).toContain('• onnx/encoder_model.onnx: 404 Not Found');
    expect(message).not.toContain('• config.json');
    expect(message).toContain('must be exported first');
  });

  it('says when a server answered a missing file with an HTML page', async () => {
    const html = Object.fromEntries(EXPORTED_FILES.map((f) => [f, '<!doctype html><title>app</title>']));
    const message = await messageOf(
      checkModelFolder(FOLDER, { fetch: fakeFetch(html, 'text/html').fetcher }),
    );
    expect(message).toContain('• config.json: is not JSON (text/html): "<!doctype html><title>app</title>"');
    expect(message).toContain('• tokenizer.json: is not JSON (text/html)');
    expect(message).not.toContain('onnx/encoder_model.onnx:');
  });

  it('wants a config.json object with a model_type', async () => {
    for (const [config, problem] of [
      ['{"d_model":16}', 'has no "model_type"'],
      ['[1,2]', 'is not a JSON object'],
      ['null', 'is not a JSON object'],
    ]) {
      const message = await messageOf(
        checkModelFolder(FOLDER, { fetch: fakeFetch({ ...GOOD, 'config.json': config }).fetcher }),
      );
      expect(message).toContain(`• config.json: ${problem}`);
    }
  });

  it('reports a network failure per file and names a picked folder as given', async () => {
    const offline = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    const message = await messageOf(
      checkModelFolder(FOLDER, { fetch: offline, where: 'the picked folder "en-de"' }),
    );
    expect(message.split('\n')[0]).toBe('No exported model at the picked folder "en-de".');
    expect(message).toContain('• onnx/decoder_model_merged.onnx: could not be fetched (Failed to fetch)');
  });
});
