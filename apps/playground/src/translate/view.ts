import { h } from '../ui.js';

/** View 3: translate with an exported model and score a reference with EL / CEL / CE. */
export function mountTranslate(root: HTMLElement): void {
  root.append(h('h2', {}, 'Translate'), h('p', { class: 'lead' }, 'Coming next.'));
}
