import { describeConformance } from '@encouraging-loss/conformance';
import { eagerAdapter, graphAdapter } from './conformance-adapters.js';

// The same suites in headless Chromium: ORT's wasm EP, loading its .wasm from the package (see browser-setup.ts).
describeConformance({ ...graphAdapter, name: `${graphAdapter.name} in Chromium` });
describeConformance({ ...eagerAdapter, name: `${eagerAdapter.name} in Chromium` });
