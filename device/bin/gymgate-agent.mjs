#!/usr/bin/env node
// gymgate door agent. Registers the TypeScript loader, then runs the CLI (works from any directory).
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../cli.ts');
const code = await runCli(process.argv.slice(2));
// Exit explicitly so a lingering socket can never keep a stopped agent alive.
process.exit(code);
