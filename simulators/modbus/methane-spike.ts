import modbusSerial from 'modbus-serial';
import { METHANE_SPIKE_COIL } from './profiles/coal-mine.js';

/**
 * Switches the methane spike of a running coal-mine simulator (another process) on or off: writes
 * coil 300 of unit 1 over Modbus TCP, as any Modbus tool would. With it on, methane reads 1.6 % CH4
 * higher: over the coal-face alarm (1.0 %) and power-cut (1.5 %) levels of the demo's preset.
 */
export async function setMethaneSpike(port: number, on: boolean, host = '127.0.0.1'): Promise<void> {
  const client = new modbusSerial.default();
  await client.connectTCP(host, { port });
  client.setID(1);
  client.setTimeout(3000);
  try {
    await client.writeCoil(METHANE_SPIKE_COIL, on);
  } finally {
    await new Promise<void>((r) => client.close(() => r()));
  }
}
