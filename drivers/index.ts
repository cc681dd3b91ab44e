import { z } from 'zod';
import type { Driver, DriverContext } from './driver.js';
import { modbusRtuDeviceSchema, modbusRtuOverTcpDeviceSchema, modbusTcpDeviceSchema } from './modbus/config.js';
import { ModbusDriver, modbusEndpoint } from './modbus/modbus-driver.js';
import { opcuaDeviceSchema, opcuaEndpoint } from './opcua/config.js';
import { OpcuaDriver } from './opcua/opcua-driver.js';
import { OpcuaSubscribingDriver } from './opcua/opcua-subscriber.js';

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

export function createDriver(device: DeviceConfig, ctx: DriverContext): Driver {
  switch (device.type) {
    case 'modbus-tcp':
    case 'modbus-rtu':
    case 'modbus-rtu-over-tcp':
      return new ModbusDriver(device, ctx);
    case 'opcua':
      return device.mode === 'subscribe' ? new OpcuaSubscribingDriver(device, ctx) : new OpcuaDriver(device, ctx);
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
