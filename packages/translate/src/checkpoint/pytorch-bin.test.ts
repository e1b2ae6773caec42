import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { readPytorchBin } from './pytorch-bin.js';
import { readSafetensors } from './safetensors.js';

const fixture = (path: string) =>
  fileURLToPath(new URL(`../../fixtures/opus-mt-tiny/${path}`, import.meta.url));
const dataError = (pattern: RegExp) =>
  expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(pattern) });

test('pytorch_model.bin (torch.save zip) holds the same tensors as model.safetensors, both written by torch', () => {
  const bin = readPytorchBin(readFileSync(fixture('pytorch_model.bin')), 'pytorch_model.bin');
  const safe = readSafetensors(readFileSync(fixture('model.safetensors'))).tensors;
  // save_pretrained's safetensors leaves out the tied copies and the positions; the .bin has them all.
  expect([...bin.keys()].filter((k) => !/embed_tokens|embed_positions|lm_head/.test(k)).sort()).toEqual(
    [...safe.keys()].sort(),
  );
  for (const [name, tensor] of safe) expect(bin.get(name), name).toEqual(tensor);
  // Tied keys share one storage in the file: each resolves to the shared embedding.
  const shared = safe.get('model.shared.weight')!;
  for (const name of [
    'lm_head.weight',
    'model.encoder.embed_tokens.weight',
    'model.decoder.embed_tokens.weight',
  ]) {
    expect(bin.get(name)).toEqual(shared);
  }
  // fc1.weight is a transposed view and fc1.bias a slice at storage offset 7: rebuilt from strides and offset.
  expect(bin.get('model.encoder.layers.0.fc1.weight')!.shape).toEqual([32, 16]);
  expect(bin.get('model.decoder.layers.0.fc1.bias')!.shape).toEqual([32]);
});

test('pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL) reads to the same tensors', () => {
  const protocol4 = readPytorchBin(readFileSync(fixture('variants/protocol4/pytorch_model.bin')));
  const zip = readPytorchBin(readFileSync(fixture('pytorch_model.bin')));
  expect([...protocol4.keys()]).toEqual([...zip.keys()]);
  for (const [name, tensor] of zip) expect(protocol4.get(name), name).toEqual(tensor);
});

test('the pre-1.6 torch.save format reads to the same tensors', () => {
  const legacy = readPytorchBin(readFileSync(fixture('variants/legacy/pytorch_model.bin')));
  const zip = readPytorchBin(readFileSync(fixture('pytorch_model.bin')));
  expect([...legacy.keys()]).toEqual([...zip.keys()]);
  for (const [name, tensor] of zip) expect(legacy.get(name), name).toEqual(tensor);
});

test('F16, BF16 and sharded safetensors upcast to the F32 values within their precision', () => {
  const f32 = readSafetensors(readFileSync(fixture('model.safetensors'))).tensors;
  for (const [variant, relative] of [
    ['f16', 2 ** -11],
    ['bf16', 2 ** -8],
  ] as const) {
    const low = readSafetensors(readFileSync(fixture(`variants/${variant}/model.safetensors`))).tensors;
    for (const [name, tensor] of f32) {
      const got = low.get(name)!.data as Float32Array;
      const want = tensor.data as Float32Array;
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) {
        // Round-to-nearest: error at most half an ulp (relative), subnormal halves aside.
        expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(relative * Math.abs(want[i]) + 2 ** -24);
      }
    }
  }
});

test('a pickle that reaches os.system or builtins.eval is refused unread', () => {
  expect(existsSync('/tmp/el-pwned')).toBe(false);
  expect(() => readPytorchBin(readFileSync(fixture('malicious/pytorch_model.bin')), 'evil.bin')).toThrow(
    dataError(/evil.bin:archive\/data.pkl: pickle byte \d+: refers to the Python global (posix|os).system/),
  );
  expect(() => readPytorchBin(readFileSync(fixture('malicious/eval.bin')), 'eval.bin')).toThrow(
    dataError(/refers to the Python global (__builtin__|builtins).eval/),
  );
  expect(() => readPytorchBin(readFileSync(fixture('malicious/stack-global.bin')), 'p4.bin')).toThrow(
    dataError(/p4.bin:archive\/data.pkl: pickle byte \d+: refers to the Python global (posix|os).system/),
  );
  expect(existsSync('/tmp/el-pwned')).toBe(false);
});

test('truncated and foreign files, and opcodes outside the state-dict subset', () => {
  const bytes = readFileSync(fixture('pytorch_model.bin'));
  expect(() => readPytorchBin(bytes.subarray(0, 2000), 'cut.bin')).toThrow(
    dataError(/cut.bin: not a readable zip/),
  );
  expect(() => readPytorchBin(new TextEncoder().encode('{"a": 1}'), 'x.bin')).toThrow(
    dataError(/x.bin: neither/),
  );
  // A pickle opcode outside the state-dict subset (INST, 'i') is refused with its byte offset.
  const evil = new Uint8Array([0x80, 0x02, 0x69, ...new TextEncoder().encode('os\nsystem\n'), 0x2e]);
  expect(() => readPytorchBin(legacyPrefix(evil), 'inst.bin')).toThrow(
    dataError(/inst.bin: pickle byte \d+: opcode 0x69/),
  );
});

/** Magic + protocol + sys-info pickles of the legacy format, then `tail`. */
function legacyPrefix(tail: Uint8Array): Uint8Array {
  const legacy = readFileSync(fixture('variants/legacy/pytorch_model.bin'));
  // The sys-info pickle ends at the third STOP; 137 bytes in files torch writes (checked below).
  const end = 137;
  expect(legacy[end - 1]).toBe(0x2e);
  return new Uint8Array([...legacy.subarray(0, end), ...tail]);
}
