/**
 * Address spaces of the OPC UA simulator. Each variable is a NodeId string under the profile
 * namespace ("ns=2;s=Mine.MainFan1.Speed"), with a unit, a range (EURange, so percent deadbands
 * work) and a generator of plausible values over time. Pure data: no node-opcua import.
 */
export type SimDataType = 'Double' | 'Float' | 'Int32' | 'UInt32' | 'Int64' | 'Boolean' | 'String' | 'DoubleArray';

export interface SimVariable {
  /** Dotted path; the last part is the variable, the others are folders/objects. Also the NodeId string. */
  path: string;
  dataType: SimDataType;
  unit?: string;
  range?: [number, number];
  description?: string;
  /** Value at t seconds since the simulator epoch; tick counts the simulator's ticks (not advanced while it is down). */
  gen: (t: number, tick: number) => number | boolean | string | bigint | number[];
  /** Fastest sampling the server allows for this node, ms (default 50); 0 = report every change as it happens. */
  minimumSamplingIntervalMs?: number;
}

export interface SimProfile {
  name: string;
  namespaceUri: string;
  variables: SimVariable[];
}

const wave = (mid: number, amp: number, periodS: number, phase = 0) => (t: number): number => Math.round((mid + amp * Math.sin((2 * Math.PI * t) / periodS + phase)) * 1000) / 1000;
const on = (periodS: number, duty = 0.8) => (t: number): boolean => (t % periodS) / periodS < duty;

function analog(path: string, unit: string, range: [number, number], gen: (t: number) => number, description = ''): SimVariable {
  return { path, dataType: 'Double', unit, range, gen, description };
}

/** Test nodes in every profile: a counter (gap checks), an Int64 total, a string, an array, an Uncertain value. */
function simNodes(): SimVariable[] {
  return [
    // +1 per tick, never skips (gap checks count on it); held while the server is down, continues after a restart.
    { path: 'Sim.Counter', dataType: 'UInt32', description: 'simulator ticks (one per tick, continues across restarts)', gen: (_t, tick) => tick, minimumSamplingIntervalMs: 0 },
    { path: 'Sim.Total', dataType: 'Int64', unit: 'count', description: 'Int64 total beyond 2^53', gen: (t) => 9_007_199_254_740_993n + BigInt(Math.floor(t)) },
    { path: 'Sim.Text', dataType: 'String', gen: (t) => `shift-${Math.floor(t / 60) % 3}` },
    { path: 'Sim.Spectrum', dataType: 'DoubleArray', unit: 'mm/s', gen: (t) => [1, 2, 3].map((k) => Math.round(10 * Math.abs(Math.sin(t / k))) / 10) },
    { path: 'Sim.Level', dataType: 'Float', unit: '%', range: [0, 100], gen: wave(50, 40, 30) },
  ];
}

function coalMine(): SimVariable[] {
  const v: SimVariable[] = [];
  for (const [i, fan] of ['MainFan1', 'MainFan2'].entries()) {
    v.push(
      analog(`Mine.${fan}.Speed`, 'rpm', [0, 1500], wave(980, 15, 40, i), 'main ventilation fan speed'),
      analog(`Mine.${fan}.Airflow`, 'm3/s', [0, 250], wave(180, 6, 55, i)),
      analog(`Mine.${fan}.NegativePressure`, 'Pa', [0, 5000], wave(2800, 80, 70, i)),
      analog(`Mine.${fan}.Vibration`, 'mm/s', [0, 20], wave(2.5, 0.6, 13, i)),
      { path: `Mine.${fan}.Running`, dataType: 'Boolean', gen: () => i === 0 },
    );
  }
  for (const [i, belt] of ['Belt1', 'Belt2'].entries()) {
    v.push(
      analog(`Mine.${belt}.Speed`, 'm/s', [0, 5], wave(3.15, 0.05, 20, i)),
      analog(`Mine.${belt}.MotorCurrent`, 'A', [0, 400], wave(210, 25, 30, i)),
      analog(`Mine.${belt}.Load`, 't/h', [0, 2000], wave(1100, 300, 90, i)),
      { path: `Mine.${belt}.Running`, dataType: 'Boolean', gen: on(600, 0.9) },
      { path: `Mine.${belt}.TearDetected`, dataType: 'Boolean', gen: () => false },
    );
  }
  v.push(
    analog('Mine.Hoist.Position', 'm', [0, 650], (t) => Math.round(325 + 320 * Math.sin(t / 20)), 'cage depth'),
    analog('Mine.Hoist.Speed', 'm/s', [-12, 12], (t) => Math.round(16 * Math.cos(t / 20) * 100) / 100),
    analog('Mine.Hoist.Load', 't', [0, 30], wave(12, 8, 120)),
    { path: 'Mine.Hoist.CageDoorClosed', dataType: 'Boolean', gen: on(40, 0.85) },
    { path: 'Mine.Hoist.Trips', dataType: 'Int64', unit: 'count', gen: (t) => 120_000n + BigInt(Math.floor(t / 40)) },
  );
  for (const [i, pump] of ['Pump1', 'Pump2', 'Pump3'].entries()) {
    v.push(
      analog(`Mine.Drainage.${pump}.Flow`, 'm3/h', [0, 600], wave(420, 20, 25, i)),
      analog(`Mine.Drainage.${pump}.Pressure`, 'MPa', [0, 10], wave(6.2, 0.2, 35, i)),
      { path: `Mine.Drainage.${pump}.Running`, dataType: 'Boolean', gen: () => i < 2 },
    );
  }
  v.push(analog('Mine.Drainage.SumpLevel', 'm', [0, 8], wave(3.4, 0.8, 300)));
  const gasPoints = ['T0_UpperCorner', 'T1_Face', 'T2_Return', 'T3_Intake'];
  for (const [i, g] of gasPoints.entries()) {
    v.push(analog(`Mine.Gas.${g}.CH4`, '%CH4', [0, 4], wave(0.35 + 0.1 * i, 0.12, 45, i), `methane at ${g}`));
  }
  v.push(
    analog('Mine.Gas.T1_Face.CO', 'ppm', [0, 500], wave(8, 3, 60)),
    analog('Mine.Gas.T1_Face.O2', '%O2', [0, 25], wave(20.6, 0.1, 80)),
    analog('Mine.Gas.T1_Face.Temperature', 'degC', [-10, 60], wave(24, 1, 200)),
  );
  return v;
}

function steelPlant(): SimVariable[] {
  const v: SimVariable[] = [
    analog('Plant.Furnace.Temperature', 'degC', [0, 1800], wave(1580, 12, 120), 'bath temperature'),
    analog('Plant.Furnace.OxygenFlow', 'Nm3/h', [0, 40000], wave(26000, 1500, 60)),
    analog('Plant.Furnace.Pressure', 'kPa', [0, 300], wave(180, 5, 30)),
    analog('Plant.Furnace.TapWeight', 't', [0, 200], wave(120, 30, 900)),
    { path: 'Plant.Furnace.Tapping', dataType: 'Boolean', gen: on(900, 0.1) },
  ];
  for (const [i, stand] of ['Stand1', 'Stand2', 'Stand3'].entries()) {
    v.push(
      analog(`Plant.RollingMill.${stand}.RollForce`, 'kN', [0, 40000], wave(18000 - 3000 * i, 900, 15, i)),
      analog(`Plant.RollingMill.${stand}.Speed`, 'm/s', [0, 30], wave(4 + 3 * i, 0.2, 20, i)),
      analog(`Plant.RollingMill.${stand}.Gap`, 'mm', [0, 80], wave(30 - 8 * i, 0.3, 25, i)),
    );
  }
  for (const [i, m] of ['Meter1', 'Meter2', 'Meter3'].entries()) {
    v.push(
      analog(`Plant.Energy.${m}.ActivePower`, 'kW', [0, 50000], wave(22000 - 5000 * i, 2000, 60, i)),
      analog(`Plant.Energy.${m}.Voltage`, 'V', [0, 12000], wave(10500, 50, 30, i)),
      analog(`Plant.Energy.${m}.PowerFactor`, '', [0, 1], wave(0.93, 0.02, 45, i)),
      { path: `Plant.Energy.${m}.EnergyTotal`, dataType: 'Int64', unit: 'kWh', gen: (t) => 4_000_000_000n + BigInt(Math.floor(t * (6 - i))) },
    );
  }
  return v;
}

const PROFILES: Record<string, () => SimProfile> = {
  'coal-mine': () => ({ name: 'coal-mine', namespaceUri: 'urn:jinyun:sim:coal-mine:model', variables: [...coalMine(), ...simNodes()] }),
  'steel-plant': () => ({ name: 'steel-plant', namespaceUri: 'urn:jinyun:sim:steel-plant:model', variables: [...steelPlant(), ...simNodes()] }),
};

export const opcuaProfileNames = (): string[] => Object.keys(PROFILES);

export function opcuaProfile(name: string): SimProfile {
  const p = PROFILES[name];
  if (!p) throw new Error(`unknown OPC UA simulator profile "${name}"; known: ${opcuaProfileNames().join(', ')}`);
  return p();
}
