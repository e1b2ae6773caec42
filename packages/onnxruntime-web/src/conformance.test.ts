import { describeConformance } from '@encouraging-loss/conformance';
import { eagerAdapter, graphAdapter } from './conformance-adapters.js';

describeConformance(graphAdapter);
describeConformance(eagerAdapter);
