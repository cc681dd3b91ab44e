import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Quality, qualityName } from '../../../core/quality.js';
import { steelPlantValues } from '../../../simulators/modbus/profiles/steel-plant.js';
import { TYPE_TEST_BLOCK } from '../../../simulators/modbus/profiles/type-test-block.js';
import { TRANSPORTS, TransportRig, byName, pointsOf, type TransportKind } from './transport-rig.js';

const TS = 1_790_000_000_000;

/** Every entry of the type-test block as a tag; CDAB tags take the device default (wordOrder: CDAB), the others say their order. */
function typeTags(): Record<string, unknown>[] {
  return TYPE_TEST_BLOCK.map((e) => {
    const name = `${e.type}-${e.order}${e.bit === undefined ? '' : `-bit${e.bit}`}-${e.address}`;
    const order = e.order === 'CDAB' ? {} : { wordOrder: e.order };
    if (e.type === 'bit') return { name, table: 'holding', address: e.address, type: 'bool', bit: e.bit, ...order };
    if (e.type === 'string') return { name, table: 'holding', address: e.address, type: 'string', length: e.length, ...order };
    return { name, table: 'holding', address: e.address, type: e.type, ...order };
  });
}

describe.each(TRANSPORTS)('every data type and byte/word order over %s', (kind: TransportKind) => {
  let rig: TransportRig;
  beforeAll(async () => {
    rig = await TransportRig.start(kind);
  }, 20_000);
  afterAll(() => rig.stop());

  it('reads int16..float64, uint64 as bigint, strings and register bits in ABCD, CDAB, BADC and DCBA exactly, in one request', async () => {
    const device = rig.device(typeTags(), { unitId: 1, wordOrder: 'CDAB' });
    const driver = rig.driver(device, () => TS);
    const before = rig.sim.stats().requests;
    const readings = await driver.read(pointsOf(device));
    expect(readings).toHaveLength(TYPE_TEST_BLOCK.length);
    TYPE_TEST_BLOCK.forEach((e, i) => {
      expect(readings[i], `${e.type} ${e.order} @${e.address}`).toEqual({ tagId: i + 1, ts: TS, value: e.value, quality: Quality.Good });
    });
    // the spot checks, written out: no "same code both sides" escape
    const got = byName(device, readings);
    expect(got['uint64-CDAB-1052']?.value).toBe(18_000_000_000_000_000_000n);
    expect(got['int64-DCBA-1044']?.value).toBe(-1234567890123456789n);
    expect(got['float32-BADC-1028']?.value).toBe(123.456);
    expect(got['float64-DCBA-1076']?.value).toBe(-9876.54321);
    expect(got['string-DCBA-1095']?.value).toBe('FURNACE-7');
    expect(got['int16-BADC-1002']?.value).toBe(-1234);
    expect(got['uint32-ABCD-1016']?.value).toBe(3_000_000_000);
    expect(TYPE_TEST_BLOCK.at(-1)!.address + 1 - TYPE_TEST_BLOCK[0]!.address).toBe(101);
    expect(rig.sim.stats().requests - before).toBe(1); // 101 registers, one FC3
    expect(driver.health()).toMatchObject({ state: 'ok', errors: 0 });
  });

  it('reads coils and discrete inputs as booleans, and applies scale, offset and the engineering range', async () => {
    const u = rig.sim.unit(2);
    const coils = [1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1];
    coils.forEach((on, i) => u.setBit('coil', 100 + i, on === 1));
    u.setBit('discrete', 1999, true);
    u.setBit('discrete', 1998, false);
    u.setNumber('input', 500, 'uint16', 54321);
    u.setNumber('input', 501, 'int16', -250);
    u.setNumber('input', 502, 'float32', 0.1, 'DCBA');
    const tags = [
      ...coils.map((_, i) => ({ name: `coil-${100 + i}`, table: 'coil', address: 100 + i, type: 'bool' })),
      { name: 'di-1999', register: 12000, type: 'bool' }, // 1-based: discrete input 1999
      { name: 'di-1998', table: 'discrete', address: 1998, type: 'bool' },
      { name: 'scaled', register: '300501', type: 'uint16', scale: 0.01, offset: -100, unit: 'kW', max: 400 },
      { name: 'signed', table: 'input', address: 501, type: 'int16', scale: 0.1, min: -20 },
      { name: 'f32', table: 'input', address: 502, type: 'float32', wordOrder: 'DCBA', scale: 10 },
    ];
    const device = rig.device(tags, { unitId: 2 });
    const got = byName(device, await rig.driver(device).read(pointsOf(device)));
    coils.forEach((on, i) => expect(got[`coil-${100 + i}`], `coil ${100 + i}`).toMatchObject({ value: on === 1, quality: Quality.Good }));
    expect(got['di-1999']).toMatchObject({ value: true, quality: Quality.Good });
    expect(got['di-1998']).toMatchObject({ value: false, quality: Quality.Good });
    expect(got.scaled).toMatchObject({ value: 443.21 });
    expect(qualityName(got.scaled!.quality)).toBe('UncertainEngineeringUnitsExceeded');
    expect(got.signed).toMatchObject({ value: -25 });
    expect(qualityName(got.signed!.quality)).toBe('UncertainEngineeringUnitsExceeded');
    expect(got.f32).toMatchObject({ value: 1, quality: Quality.Good });
  });

  it('reads the steel-plant power meter (32- and 64-bit counters in different word orders) and furnace exactly at several ticks', async () => {
    const meter = rig.device([
      { name: 'energy-kwh', table: 'input', address: 0, type: 'uint32', wordOrder: 'CDAB', unit: 'kWh' },
      { name: 'energy-wh', table: 'input', address: 2, type: 'uint64', unit: 'Wh' },
      { name: 'reactive-varh', table: 'input', address: 6, type: 'int64', wordOrder: 'DCBA', unit: 'varh' },
      { name: 'power-kw', table: 'input', address: 10, type: 'float32', unit: 'kW' },
      { name: 'energy-kwh-f64', table: 'input', address: 12, type: 'float64', wordOrder: 'BADC', unit: 'kWh' },
    ], { name: 'meter', unitId: 3 });
    const furnace = rig.device([
      { name: 'zone1', register: 40001, type: 'float32', unit: 'degC' },
      { name: 'zone2', register: 40003, type: 'float32', wordOrder: 'CDAB', unit: 'degC' },
      { name: 'cooling', register: 40005, type: 'int16', scale: 0.1, unit: 'degC' },
      { name: 'flame-ok', register: 40006, type: 'bool', bit: 1 },
      { name: 'burner-enable', register: 1, type: 'bool' },
    ], { name: 'furnace', unitId: 1 });
    const mill = rig.device([
      { name: 'motor-current', table: 'holding', address: 0, type: 'float32', wordOrder: 'CDAB', unit: 'A' },
      { name: 'vibration', table: 'holding', address: 2, type: 'uint16', scale: 0.01, unit: 'mm/s' },
      { name: 'roll-speed', table: 'holding', address: 3, type: 'int16', unit: 'rpm' },
      { name: 'bearing', table: 'input', address: 0, type: 'float32', wordOrder: 'DCBA', unit: 'degC' },
      { name: 'vibration-alarm', table: 'discrete', address: 0, type: 'bool' },
    ], { name: 'mill', unitId: 2 });
    const [dm, df, dr] = [rig.driver(meter), rig.driver(furnace), rig.driver(mill)];
    for (const tick of [0, 1, 4321, 2_000_000_000]) {
      rig.sim.advance(tick - rig.sim.stats().tick);
      const v = steelPlantValues(tick);
      const m = byName(meter, await dm.read(pointsOf(meter)));
      expect(Object.fromEntries(Object.entries(m).map(([k, r]) => [k, r.value])), `meter @${tick}`).toEqual({
        'energy-kwh': v.energyKWh,
        'energy-wh': v.energyWh,
        'reactive-varh': v.reactiveVarh,
        'power-kw': v.powerKW,
        'energy-kwh-f64': v.energyKWhF64,
      });
      const f = byName(furnace, await df.read(pointsOf(furnace)));
      expect(Object.fromEntries(Object.entries(f).map(([k, r]) => [k, r.value])), `furnace @${tick}`).toEqual({
        zone1: v.zone1C, zone2: v.zone2C, cooling: v.coolingC, 'flame-ok': true, 'burner-enable': true,
      });
      const r = byName(mill, await dr.read(pointsOf(mill)));
      expect(Object.fromEntries(Object.entries(r).map(([k, x]) => [k, x.value])), `mill @${tick}`).toEqual({
        'motor-current': v.motorCurrentA, vibration: v.vibrationMmS, 'roll-speed': v.rollRpm, bearing: v.bearingC, 'vibration-alarm': v.vibrationAlarm,
      });
    }
    // one figure by hand: 5e9 Wh + 120 Wh per tick
    expect(steelPlantValues(2_000_000_000).energyWh).toBe(245_000_000_000n);
  });
});
