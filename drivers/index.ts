import { z } from 'zod';
import type { Driver, DriverContext } from './driver.js';
import { modbusRtuDeviceSchema, modbusRtuOverTcpDeviceSchema, modbusTcpDeviceSchema } from './modbus/config.js';
import { modbusEndpoint } from './modbus/config.js';
import { opcuaDeviceSchema, opcuaEndpoint } from './opcua/config.js';

/**
 * Every driver the gateway knows, listed explicitly (no loading by name). To add one: its device
 * schema goes into the union, and a case into each switch below.
 */
export const deviceSchema = z
  .discriminatedUnion('type', [modbusTcpDeviceSchema, modbusRtuDeviceSchema, modbusRtuOverTcpDeviceSchema, opcuaDeviceSchema])
  .describe('A device; "type" selects the driver.');

export type DeviceConfig = z.output<typeof deviceSchema>;
export type DeviceType = DeviceConfig['type'];

/** Catalog entry of one configured tag. */
export interface TagInfo {
  name: string;
  unit: string;
  /** Data type as configured ("bool", "int16", "float32", ...). */
  dataType: string;
  description: string;
}

function unreachable(device: never): never {
  throw new Error(`unknown device type ${JSON.stringify((device as { type?: unknown }).type)}`);
}

/**
 * Creates the driver for one device. Driver code is loaded on first use, so a Modbus-only gateway
 * never loads the OPC UA stack (memory on small edge boxes, start-up time, and no library noise).
 */
export async function createDriver(device: DeviceConfig, ctx: DriverContext): Promise<Driver> {
  switch (device.type) {
    case 'modbus-tcp':
    case 'modbus-rtu':
    case 'modbus-rtu-over-tcp': {
      const { ModbusDriver } = await import('./modbus/modbus-driver.js');
      return new ModbusDriver(device, ctx);
    }
    case 'opcua': {
      if (device.mode === 'subscribe') {
        const { OpcuaSubscribingDriver } = await import('./opcua/opcua-subscriber.js');
        return new OpcuaSubscribingDriver(device, ctx);
      }
      const { OpcuaDriver } = await import('./opcua/opcua-driver.js');
      return new OpcuaDriver(device, ctx);
    }
    default:
      return unreachable(device);
  }
}

/** Where the device is, for logs and the catalog: "127.0.0.1:5020 unit 1". Never includes credentials. */
export function describeEndpoint(device: DeviceConfig): string {
  switch (device.type) {
    case 'modbus-tcp':
    case 'modbus-rtu':
    case 'modbus-rtu-over-tcp':
      return modbusEndpoint(device);
    case 'opcua':
      return opcuaEndpoint(device);
    default:
      return unreachable(device);
  }
}

export function tagInfo(device: DeviceConfig): TagInfo[] {
  switch (device.type) {
    case 'modbus-tcp':
    case 'modbus-rtu':
    case 'modbus-rtu-over-tcp':
      return device.tags.map((t) => ({ name: t.name, unit: t.unit, dataType: t.type, description: t.description }));
    case 'opcua':
      return device.tags.map((t) => ({ name: t.name, unit: t.unit, dataType: t.dataType, description: t.description }));
    default:
      return unreachable(device);
  }
}
