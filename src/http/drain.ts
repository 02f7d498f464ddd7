import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/**
 * Once no request is in flight, how long kept-alive connections are left open for a client that is
 * about to send on one (its request is answered 503, with Connection: close) before the rest close.
 */
const IDLE_GRACE_MS = 500;
const POLL_MS = 20;
/** While refusing: how long without a new connection before the listener may close unnoticed. */
const QUIET_MS = 250;
/** ...and the longest the refusing step waits for that, should clients keep coming. */
const QUIET_MAX_MS = 2000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const afterPendingIo = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The HTTP server's connections and requests in flight, for a graceful drain (src/server.ts close).
 * Closing a kept-alive connection while its client is sending a request on it resets that request
 * (the client sees ECONNRESET / "socket hang up"), so a draining server closes no connection under
 * a client: every response from the drain on says Connection: close, so each client closes its
 * connection after its next answer (served during the delay, refused with 503 after it) and goes
 * elsewhere. Only connections left idle past a short grace are closed by the server.
 */
export class ConnectionDrain {
  private readonly sockets = new Set<Socket>();
  private readonly responses = new Set<ServerResponse>();
  private closeAfterEach = false;
  private lastActivityAt = 0;
  private lastConnectionAt = 0;

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      this.lastConnectionAt = Date.now();
      socket.once('close', () => this.sockets.delete(socket));
    });
    // first of the request listeners, so the header is in place before Fastify answers
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.lastActivityAt = Date.now();
      this.responses.add(res);
      res.once('close', () => {
        this.responses.delete(res);
        this.lastActivityAt = Date.now();
      });
      if (this.closeAfterEach) res.setHeader('connection', 'close');
    });
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  get inFlight(): number {
    return this.responses.size;
  }

  /** From now on every response (and every one not yet begun) closes its connection after it. */
  closeConnectionsAfterResponses(): void {
    this.closeAfterEach = true;
    for (const res of this.responses) if (!res.headersSent) res.setHeader('connection', 'close');
  }

  /**
   * Stops accepting connections; open ones stay open. (http.Server.close() would also close the idle
   * kept-alive ones at once, racing a client about to send on one: net.Server's close does not.)
   */
  stopListening(): void {
    if (this.server.listening) NetServer.prototype.close.call(this.server);
  }

  /**
   * Resolves when no request is in flight and none has ended nor a connection arrived for QUIET_MS
   * (clients told 503 have gone), or after QUIET_MAX_MS whatever clients still do.
   */
  async quiet(): Promise<void> {
    const giveUpAt = Date.now() + QUIET_MAX_MS;
    const isQuiet = () =>
      this.responses.size === 0 &&
      Date.now() - Math.max(this.lastConnectionAt, this.lastActivityAt) >= QUIET_MS;
    while (Date.now() < giveUpAt) {
      // a timer can fire after the event loop was held up, before it accepted the connections that
      // queued meanwhile: setImmediate runs after this turn's I/O (accepts included), so look again
      if (isQuiet() && (await afterPendingIo(), isQuiet())) return;
      await sleep(POLL_MS);
    }
  }

  /** Resolves when every connection has closed, or none has had a request for the grace period. */
  async settled(): Promise<void> {
    while (this.sockets.size > 0) {
      if (this.responses.size === 0 && Date.now() - this.lastActivityAt >= IDLE_GRACE_MS) return;
      await sleep(POLL_MS);
    }
  }

  /** Resolves when no request is in flight. */
  async requestsDone(): Promise<void> {
    while (this.responses.size > 0) await sleep(POLL_MS);
  }
}

/**
 * The HTTP side of a graceful stop (SIGTERM), in three steps:
 * 1. readiness fails at once and every response closes its connection; for delayMs (a load
 *    balancer's time to notice) everything is still served and new connections are accepted;
 * 2. new requests are refused (503, "retry on another node", before anything is read or written)
 *    while those in flight finish, until no connection has arrived for a moment: closing a listening
 *    socket resets the connections still queued in it, so it is closed once clients have gone;
 * 3. the listener closes, the last connections close, and the app closes (the bus and jobs stop,
 *    waiting for handlers in flight).
 * The caller closes the store afterwards (flushing its group commits) and bounds the whole.
 */
export async function drainApp(
  app: FastifyInstance,
  connections: ConnectionDrain,
  {
    readiness,
    delayMs,
  }: { readiness: { startDraining(): void; refuseRequests(): void }; delayMs: number },
): Promise<void> {
  readiness.startDraining();
  connections.closeConnectionsAfterResponses();
  app.log.info(
    { inFlight: connections.inFlight, connections: connections.openConnections, delayMs },
    'draining: not ready; finishing requests in flight',
  );
  if (delayMs > 0) await sleep(delayMs);
  readiness.refuseRequests();
  await connections.quiet();
  connections.stopListening();
  await connections.settled();
  await app.close();
  // a request that reached the app just as it began to close is finished before the store closes
  await connections.requestsDone();
  app.log.info('drained');
}
