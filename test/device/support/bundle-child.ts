// Child processes for the start/stop and kill tests are bundled once with esbuild (tsx's own), so
// each of the hundreds of processes starts in a fraction of the time a TypeScript loader takes.
// The bundle lives under node_modules/.cache so its package imports resolve.
import { join } from 'node:path';

export async function bundleChild(name: string): Promise<string> {
  const outfile = join(import.meta.dirname, `../../../node_modules/.cache/gymgate-test/${name}.mjs`);
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(import.meta.dirname, `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    packages: 'external',
    target: 'node20',
    logLevel: 'error',
  });
  return outfile;
}
