import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';

/** A bare aedes broker on a free port (no auth), for tests of clients that need a real broker. */
export async function plainBroker(port = 0): Promise<{ broker: Aedes; server: Server; port: number; close: () => Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    broker,
    server,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
