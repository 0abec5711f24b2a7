// npm run bootstrap -- --name "My Gym" [--local | --remote] [--persist-to DIR] [--json]
// Creates the first organisation and API key in D1 through `wrangler d1 execute`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bootstrapOrganisation } from './statements.ts';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    remote: { type: 'boolean', default: false },
    local: { type: 'boolean', default: false },
    'persist-to': { type: 'string' },
    database: { type: 'string', default: 'gymgate' },
    json: { type: 'boolean', default: false },
  },
});

if (!values.name) {
  console.error('--name is required: the organisation name, e.g. --name "Sukhumvit Strength"');
  process.exit(2);
}
if (values.remote && values.local) {
  console.error('--local and --remote exclude each other');
  process.exit(2);
}

const boot = await bootstrapOrganisation(values.name, Date.now());
const dir = mkdtempSync(path.join(tmpdir(), 'gymgate-bootstrap-'));
const file = path.join(dir, 'bootstrap.sql');
writeFileSync(file, boot.sql, { mode: 0o600 });
try {
  const wrangler = path.resolve(import.meta.dirname, '../../node_modules/.bin/wrangler');
  execFileSync(
    wrangler,
    [
      'd1', 'execute', values.database, values.remote ? '--remote' : '--local', '--file', file,
      ...(values['persist-to'] ? ['--persist-to', values['persist-to']] : []),
    ],
    { stdio: values.json ? 'ignore' : ['ignore', 'ignore', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (values.json) {
  console.log(JSON.stringify({ organisationId: boot.organisationId, apiKeyId: boot.apiKeyId, apiKey: boot.apiKey }));
} else {
  console.log(`Organisation ${boot.organisationId} created.`);
  console.log(`API key (shown once, store it now): ${boot.apiKey}`);
}
