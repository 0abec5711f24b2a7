// The snapshot process: runs snapshot-work.ts in a child of the agent, so a large refresh never
// stalls card taps, and everything the parse allocated (a million-member snapshot is hundreds of
// megabytes of objects) goes back to the system when the process exits instead of staying in the
// agent's heap. Messages (IPC, advanced serialization): {id, op: 'process', bytes} and
// {id, op: 'rewrite', parts}; answers carry the result, or an error. A snapshot's bytes are not
// sent back: the agent still holds them.
import { PARTS_LAYOUT } from './cache-parts.ts';
import { processBody, rewriteParts } from './snapshot-work.ts';
import type { ProcessRequest, ProcessResponse } from './builder.ts';

const send = process.send?.bind(process);
if (!send) throw new Error('snapshot-process.ts must run as a child process with an IPC channel');

process.on('message', (request: ProcessRequest) => {
  let response: ProcessResponse;
  try {
    if (request.op === 'process') {
      const result = processBody(request.bytes);
      response = { id: request.id, ok: true, layout: PARTS_LAYOUT, result: result.kind === 'snapshot' ? { ...result, bytes: new Uint8Array(0) } : result };
    } else response = { id: request.id, ok: true, layout: PARTS_LAYOUT, result: rewriteParts(request.parts) };
  } catch (error) {
    response = { id: request.id, ok: false, error: { name: (error as Error).name, message: (error as Error).message } };
  }
  send(response);
});
// The agent going away closes the channel: nothing left to do.
process.on('disconnect', () => process.exit(0));
