import { SENSORS, type SensorName } from '../sensors.js';

export function formatValue(sensor: SensorName, value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const { decimals, unit } = SENSORS[sensor];
  return `${value.toFixed(decimals)} ${unit}`;
}

// One formatter for the page: `toLocaleTimeString` builds a new one per call, which cost
// several ms per redraw for 30 table cells.
const TIME = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

export function formatTime(at: number): string {
  return TIME.format(at);
}

export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min ago` : `${Math.round(minutes / 60)} h ago`;
}
