/** Small DOM helpers: the page is plain TypeScript and DOM, no UI framework. */

type Attributes = Record<string, string | number | boolean | undefined>;

/** Creates an element with attributes (`class`, `aria-*`, `data-*`, …) and children (nodes or text). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children);
  return element;
}

/** A labelled range slider with its value shown beside it; `onInput` gets the number on every move. */
export function slider(options: {
  id: string;
  label: string;
  min: number;
  max: number;
  step: number;
  value: number;
  describedBy?: string;
  onInput: (value: number) => void;
}): HTMLElement {
  const input = h('input', {
    type: 'range',
    id: options.id,
    min: options.min,
    max: options.max,
    step: options.step,
    value: options.value,
    'aria-describedby': options.describedBy,
  });
  const output = h('output', { for: options.id }, String(options.value));
  input.addEventListener('input', () => {
    output.textContent = input.value;
    options.onInput(Number(input.value));
  });
  return h('div', { class: 'control' }, h('label', { for: options.id }, options.label), input, output);
}

/** A labelled number field. */
export function numberField(options: {
  id: string;
  label: string;
  value: number;
  min?: number;
  max?: number;
  step?: number;
}): { element: HTMLElement; input: HTMLInputElement } {
  const input = h('input', {
    type: 'number',
    id: options.id,
    value: options.value,
    min: options.min,
    max: options.max,
    step: options.step ?? 'any',
    inputmode: 'decimal',
  });
  return {
    element: h('div', { class: 'control' }, h('label', { for: options.id }, options.label), input),
    input,
  };
}

/** Yields to the browser (a macrotask, not throttled to the frame rate like requestAnimationFrame). */
export function yieldToBrowser(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}

/** Fixed-point text of a number that keeps −0 out of tables. */
export function fixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

/** The line colours of CE, EL and CEL everywhere in the page (colour-blind safe, Okabe–Ito). */
export const LOSS_COLORS = { CE: '#555555', EL: '#D55E00', CEL: '#0072B2' } as const;
