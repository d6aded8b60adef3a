/**
 * A local HTTP server standing in for a provider's API in tests: it records every request
 * and answers through the test's handler.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeliveryError } from '../provider.ts';

export interface RecordedRequest {
  method: string;
  /** Path and query string. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface VendorReply {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON. */
  body?: unknown;
}

/** A reply, or `'hang'` to never answer (for timeouts). */
export type VendorHandler = (request: RecordedRequest) => VendorReply | 'hang' | Promise<VendorReply | 'hang'>;

export interface VendorServer {
  baseUrl: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Starts a server on 127.0.0.1 at a free port. */
export async function startVendorServer(handler: VendorHandler): Promise<VendorServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const request: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(request);
      try {
        const reply = await handler(request);
        if (reply === 'hang') return;
        const json = typeof reply.body === 'object' && reply.body !== null;
        res.writeHead(reply.status, { ...(json ? { 'content-type': 'application/json' } : { 'content-type': 'text/plain' }), ...reply.headers });
        res.end(reply.body === undefined ? undefined : json ? JSON.stringify(reply.body) : String(reply.body));
      } catch (error) {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`test handler failed: ${String(error)}`);
      }
    });
  });
  const port = await listen(server);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The DeliveryError a send failed with (tests); throws if it succeeded or failed otherwise. */
export async function deliveryFailure(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof DeliveryError)) throw new Error(`expected a DeliveryError, got ${error === undefined ? 'success' : String(error)}`);
  return error;
}
