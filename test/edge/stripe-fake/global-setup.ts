// Global setup of the edge tests: starts the fake Stripe API (server.ts) on a loopback port and
// hands its URL to the Worker tests as `stripeFakeUrl`.
import type { TestProject } from 'vitest/node';
import { startFakeStripe } from './server.ts';

export default async function setup(project: TestProject) {
  const fake = await startFakeStripe();
  project.provide('stripeFakeUrl', fake.url);
  return () => fake.close();
}
