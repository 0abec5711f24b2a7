// `node --import tsx test/bench/write-snapshot.ts N FILE`: writes the synthetic site's snapshot of N
// credentials as the Worker would send it, so the agent probe gets its body as bytes from outside,
// as the agent does from the network, without building the site's objects in its own process.
import { writeFileSync } from 'node:fs';
import { syntheticSnapshot } from './synthetic-site.ts';

const [n, file] = process.argv.slice(2);
writeFileSync(file!, JSON.stringify(syntheticSnapshot(Number(n))));
