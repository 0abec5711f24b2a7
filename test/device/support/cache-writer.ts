// Child process for the kill -9 test: rewrites cache.json the way CacheStore.saveSnapshot does
// (writeFileAtomic: temp file, fsync, rename, directory fsync) as fast as it can, with a new
// version each time, until it is killed. It imports only the storage module so that each of the
// thousand processes starts quickly.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../device/storage/atomic-write.ts';

const [dataDir] = process.argv.slice(2) as [string];
const path = join(dataDir, 'cache.json'); // CACHE_FILE
// Continues from the cache on disk, so versions only grow across kills.
const template = JSON.parse(await readFile(path, 'utf8')) as { version: number };
process.stdout.write('writing\n');
for (let i = 1; ; i++) {
  template.version += 1;
  // Vary the size so a torn write would also show as a length mismatch.
  await writeFileAtomic(path, JSON.stringify(template) + ' '.repeat(i % 4096), { mode: 0o600 });
}
