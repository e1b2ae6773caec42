// pnpm --filter @encouraging-loss/example-fashion-mnist run report
// Writes README.md's results section from results.json (src/report-tables.ts) and prints it.
import { readFileSync, writeFileSync } from 'node:fs';
import { withResultsSection } from './report-tables.js';
import { RESULTS_URL, readResults } from './results.js';

const results = readResults(RESULTS_URL);
if (!results) {
  console.error(`no ${RESULTS_URL.pathname}: run the experiment first`);
  process.exit(2);
}
const readme = new URL('../README.md', import.meta.url);
const updated = withResultsSection(readFileSync(readme, 'utf8'), results);
writeFileSync(readme, updated);
console.log(updated.slice(updated.indexOf('<!-- results -->'), updated.indexOf('<!-- /results -->')));
console.error(`written ${readme.pathname} from ${RESULTS_URL.pathname} (${results.runs.length} runs)`);
