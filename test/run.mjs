// `npm test`: type-checks every part, checks the import rules (test/dependencies.cjs), runs all
// vitest projects, and ends with one plain "N passed, N failed" line that CI logs can be read by.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const bin = (name) => path.join(root, 'node_modules/.bin', name);
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false' };
const args = process.argv.slice(2);

for (const project of ['tsconfig.json', 'edge/tsconfig.json', 'device/tsconfig.json', 'test/tsconfig.json']) {
  const r = spawnSync(bin('tsc'), ['-p', project], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.log(`typecheck (${project}): 0 passed, 1 failed`);
    process.exit(r.status ?? 1);
  }
}

// Import rules: no cycles, core/ pure, edge/ and device/ apart. err-long explains each break in words.
const deps = spawnSync(bin('depcruise'), ['--config', 'test/dependencies.cjs', '--output-type', 'err-long', 'core', 'edge', 'device'], { cwd: root, stdio: 'inherit', env });
if (deps.status !== 0) {
  console.log('dependency rules: 0 passed, 1 failed');
  process.exit(deps.status ?? 1);
}

const resultsDir = path.join(root, '.gymgate');
mkdirSync(resultsDir, { recursive: true });
const results = path.join(resultsDir, 'test-results.json');
rmSync(results, { force: true });
const r = spawnSync(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...args], {
  cwd: root,
  stdio: 'inherit',
  env,
});
let summary = 'tests: 0 passed, 1 failed';
try {
  const json = JSON.parse(readFileSync(results, 'utf8'));
  const skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
  summary = `tests: ${json.numPassedTests} passed, ${json.numFailedTests} failed, ${skipped} skipped`;
} catch {
  /* vitest did not get as far as writing results */
}
console.log(summary);
process.exit(r.status ?? 1);
