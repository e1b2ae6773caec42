import './styles.css';

const VIEWS = ['why', 'train', 'translate', 'finetune'] as const;
type ViewName = (typeof VIEWS)[number];

// Each view is its own chunk: the first chart needs only the core and uPlot, not tfjs or transformers.js.
const MOUNT: Record<ViewName, () => Promise<(root: HTMLElement) => void | Promise<void>>> = {
  why: () => import('./why/view.js').then((m) => m.mountWhy),
  train: () => import('./train/view.js').then((m) => m.mountTrain),
  translate: () => import('./translate/view.js').then((m) => m.mountTranslate),
  // The page loads only the view; the library and tfjs load with the worker when a run starts.
  finetune: () => import('./finetune/view.js').then((m) => m.mountFinetune),
};

const mounted = new Set<ViewName>();

/** The view a hash names: `#finetune?steps=4` is the Fine-tune view with its settings in the query. */
function currentView(): ViewName {
  const name = location.hash.slice(1).split('?', 1)[0];
  return (VIEWS as readonly string[]).includes(name) ? (name as ViewName) : 'why';
}

async function show(name: ViewName): Promise<void> {
  for (const section of document.querySelectorAll<HTMLElement>('main > section')) {
    section.hidden = section.dataset.view !== name;
  }
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (mounted.has(name)) return;
  mounted.add(name);
  const root = document.getElementById(`view-${name}`)!;
  const mount = await MOUNT[name]();
  await mount(root);
  if (name === 'why' && document.body.dataset.firstRender === undefined) {
    // Time to first render: the first chart painted, against navigation start.
    requestAnimationFrame(() => {
      document.body.dataset.firstRender = performance.now().toFixed(1);
    });
  }
}

window.addEventListener('hashchange', () => void show(currentView()));
void show(currentView());
