/**
 * Resolves in the event loop's check phase (`setImmediate`), after every socket that had input in
 * this turn of the loop has been read. Webhooks whose bodies arrived together then publish
 * together: the NATS client flushes its outbound buffer once per microtask checkpoint, so their
 * publishes leave in one socket write instead of one write each, and nats-server reads and stores
 * them as a batch. Under load this cut ingest's and nats-server's CPU per event by a quarter and
 * a third (README "Performance"); when idle it delays a publish by less than one turn of the loop.
 */
export function publishTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
