/**
 * The sensors this dashboard knows. Ranges are what the usual hobby parts
 * can physically report (DS18B20/DHT22, capacitive hygrometers, BH1750): a
 * value outside them is a wiring or firmware fault, so ingest refuses it
 * rather than letting one bad sample wreck the chart's scale.
 */
export const SENSORS = {
  temperature: { label: 'Temperature', unit: '°C', min: -40, max: 125, typical: [15, 35], decimals: 1 },
  humidity: { label: 'Humidity', unit: '%', min: 0, max: 100, typical: [20, 90], decimals: 1 },
  light: { label: 'Light', unit: 'lx', min: 0, max: 200_000, typical: [50, 1200], decimals: 0 },
} as const;

export type SensorName = keyof typeof SENSORS;
export const SENSOR_NAMES = Object.keys(SENSORS) as SensorName[];

export interface Thresholds {
  /** A reading strictly below this raises a `low` alarm; `null` = no lower limit. */
  readonly low: number | null;
  /** A reading strictly above this raises a `high` alarm; `null` = no upper limit. */
  readonly high: number | null;
}

export type Alarms = Readonly<Record<SensorName, Thresholds>>;

export const DEFAULT_ALARMS: Alarms = {
  temperature: { low: null, high: 30 },
  humidity: { low: 20, high: 80 },
  light: { low: null, high: null },
};

export type AlarmLevel = 'low' | 'high';

/** Which side of its thresholds a value is on; `null` when it is inside them. */
export function alarmLevel(value: number, thresholds: Thresholds | undefined): AlarmLevel | null {
  if (!thresholds) return null;
  if (thresholds.high !== null && value > thresholds.high) return 'high';
  if (thresholds.low !== null && value < thresholds.low) return 'low';
  return null;
}
