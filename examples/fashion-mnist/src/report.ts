// pnpm --filter @encouraging-loss/example-fashion-mnist run report
// Writes README.md's results section from results.json, and its longer-training check from results-longer.json
// (src/report-tables.ts), and prints them.
import { readFileSync, writeFileSync } from 'node:fs';
import { withResultsSection } from './report-tables.js';
import { LONGER_RESULTS_URL, RESULTS_URL, readResults } from './results.js';

const results = readResults(RESULTS_URL);
if (!results) {
  console.error(`no ${RESULTS_URL.pathname}: run the experiment first`);
  process.exit(2);
}
const readme = new URL('../README.md', import.meta.url);
const updated = withResultsSection(readFileSync(readme, 'utf8'), results, readResults(LONGER_RESULTS_URL));
writeFileSync(readme, updated);
console.log(updated.slice(updated.indexOf('<!-- results -->'), updated.indexOf('<!-- /results -->')));
if (updated.includes('<!-- longer -->'))
  console.log(updated.slice(updated.indexOf('<!-- longer -->'), updated.indexOf('<!-- /longer -->')));
console.error(`written ${readme.pathname} from ${RESULTS_URL.pathname} (${results.runs.length} runs)`);
