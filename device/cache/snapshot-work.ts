// The heavy part of adopting a snapshot — decoding, parsing, validating, building the compact
// arrays and hashing a possibly million-member snapshot — as plain functions, run either in the
// snapshot process (snapshot-process.ts) or inline for small bodies.
import { buildParts, SnapshotError, type CacheParts } from './cache-parts.ts';
import { EntitlementCache } from './entitlement-cache.ts';
import { unwrapSnapshot, validateSnapshot } from './snapshot-check.ts';

export type ProcessResult =
  | { kind: 'snapshot'; parts: CacheParts; bytes: Uint8Array }
  /** A delta or `current` update: parsed JSON, validated by the caller. */
  | { kind: 'update'; value: unknown };

/** Turns a Worker response body (a snapshot, or an EntitlementUpdate of any kind) into cache parts. */
export function processBody(bytes: Uint8Array): ProcessResult {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new SnapshotError(`entitlement response is not JSON: ${(error as Error).message}`);
  }
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (kind === 'delta' || kind === 'current') return { kind: 'update', value };
  return { kind: 'snapshot', parts: buildParts(validateSnapshot(unwrapSnapshot(value))), bytes };
}

export type RewriteResult = { parts: CacheParts; text: string; dropped: number };

/** Rebuilds a cache that deltas have changed into fresh compact arrays, and its snapshot text. */
export function rewriteParts(parts: CacheParts): RewriteResult {
  const { snapshot, dropped } = EntitlementCache.fromParts(parts).toSnapshot();
  const text = JSON.stringify(snapshot);
  return { parts: buildParts(snapshot), text, dropped };
}
