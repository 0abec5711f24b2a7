// The snapshot thread: runs snapshot-work.ts off the main thread so a large refresh never stalls
// card taps. Messages: {id, op: 'process', bytes} and {id, op: 'rewrite', parts}; answers carry
// the result with its typed arrays transferred, or an error.
import { parentPort } from 'node:worker_threads';
import { partsBuffers } from './cache-parts.ts';
import { processBody, rewriteParts } from './snapshot-work.ts';
import type { ThreadRequest, ThreadResponse } from './builder.ts';

const port = parentPort;
if (!port) throw new Error('snapshot-thread.ts must run in a worker thread');

port.on('message', (request: ThreadRequest) => {
  let response: ThreadResponse;
  let transfer: ArrayBuffer[] = [];
  try {
    if (request.op === 'process') {
      const result = processBody(request.bytes);
      response = { id: request.id, ok: true, result };
      if (result.kind === 'snapshot') transfer = [...partsBuffers(result.parts), result.bytes.buffer as ArrayBuffer];
    } else {
      const result = rewriteParts(request.parts);
      response = { id: request.id, ok: true, result };
      transfer = partsBuffers(result.parts);
    }
  } catch (error) {
    response = { id: request.id, ok: false, error: { name: (error as Error).name, message: (error as Error).message } };
  }
  port.postMessage(response, transfer);
});
