import type uPlot from 'uplot';
import { type AlarmLevel, alarmLevel, SENSORS, type SensorName, type Thresholds } from '../sensors.js';
import type { SeriesPoint } from '../series-buffer.js';
import { createChart, toColumns } from './chart.js';
import { formatTime, formatValue } from './format.js';
import { type SensorHistory, TABLE_ROWS } from './history.js';

export interface SubmitOutcome {
  readonly ok: boolean;
  readonly message: string;
  readonly invalid?: readonly ('low' | 'high')[];
}

export interface SensorCard {
  readonly chart: uPlot;
  /**
   * Redraw: chart, stats and table from the sensor's history (the store's
   * range plus live readings); `last` (the newest reading, from the mirrored
   * state) for the latest value and the alarm. Returns its alarm level.
   */
  render(
    history: SensorHistory,
    last: SeriesPoint | null,
    thresholds: Thresholds | undefined,
    rangeLabel: string,
  ): AlarmLevel | null;
  /** Show the current thresholds in the form (unless the user is editing it). */
  showThresholds(thresholds: Thresholds | undefined): void;
  /** `submit` gets the raw field text; it returns a message to show and the fields at fault. */
  onSubmit(submit: (low: string, high: string) => Promise<SubmitOutcome>): void;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

const STATUS_TEXT: Record<AlarmLevel | 'ok', string> = { high: 'Above alarm', low: 'Below alarm', ok: 'OK' };

export function createSensorCard(
  sensor: SensorName,
  parent: HTMLElement,
  thresholds: () => Thresholds | undefined,
): SensorCard {
  const { label, unit } = SENSORS[sensor];
  const id = (part: string) => `${sensor}-${part}`;
  const latest = el('strong', { 'data-field': 'latest' }, '—');
  const latestState = el('span', { 'data-field': 'latest-state' });
  const chartBox = el('div', { class: 'chart', 'data-chart': sensor });
  const stat = (name: string, title: string) => {
    const dd = el('dd', { 'data-stat': name }, '—');
    return { dd, node: el('div', {}, el('dt', {}, title), dd) };
  };
  const stats = {
    avg: stat('avg', 'Average'),
    min: stat('min', 'Min'),
    max: stat('max', 'Max'),
    count: stat('count', 'Readings'),
  };
  const low = el('input', { id: id('low'), name: 'low', type: 'text', inputmode: 'decimal', autocomplete: 'off' });
  const high = el('input', { id: id('high'), name: 'high', type: 'text', inputmode: 'decimal', autocomplete: 'off' });
  const message = el('p', { class: 'form-message', role: 'status', id: id('alarm-message') });
  const form = el(
    'form',
    { class: 'alarm-form', 'data-sensor': sensor, novalidate: '' },
    el(
      'fieldset',
      {},
      el('legend', {}, `Alarm thresholds (${unit}; empty = none)`),
      el('label', { for: id('low') }, 'Low '),
      low,
      el('label', { for: id('high') }, 'High '),
      high,
      el('button', { type: 'submit' }, `Set ${label.toLowerCase()} alarm`),
      message,
    ),
  );
  const tbody = el('tbody');
  const table = el(
    'table',
    { 'data-table': sensor },
    el('caption', {}, `${label}: last ${TABLE_ROWS} readings`),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { scope: 'col' }, 'Time'),
        el('th', { scope: 'col' }, 'Value'),
        el('th', { scope: 'col' }, 'Status'),
      ),
    ),
    tbody,
  );
  const root = el(
    'section',
    { class: 'sensor', id: id('card'), 'aria-labelledby': id('title'), 'data-alarm': 'none' },
    el('h2', { id: id('title') }, `${label} (${unit})`),
    el('p', { class: 'latest' }, 'Latest: ', latest, ' ', latestState),
    chartBox,
    el('dl', { class: 'stats', 'aria-label': `${label} statistics` }, ...Object.values(stats).map((s) => s.node)),
    form,
    table,
  );
  parent.append(root);
  chartBox.setAttribute('role', 'img');
  const chart = createChart(sensor, chartBox, thresholds);
  new ResizeObserver(() => chart.setSize({ width: Math.max(280, chartBox.clientWidth), height: 200 })).observe(
    chartBox,
  );

  let editing = false;
  form.addEventListener('input', () => {
    editing = true;
  });

  return {
    chart,
    render(history, last, limits, rangeLabel) {
      chart.setData(toColumns(history.points));
      const s = history.stats();
      stats.avg.dd.textContent = formatValue(sensor, s?.avg);
      stats.min.dd.textContent = formatValue(sensor, s?.min);
      stats.max.dd.textContent = formatValue(sensor, s?.max);
      stats.count.dd.textContent = String(s?.count ?? 0);
      chartBox.setAttribute('aria-label', `${label} chart, ${rangeLabel}: ${s?.count ?? 0} readings`);

      tbody.replaceChildren(
        ...history.rows.map((point) => {
          const level = alarmLevel(point.value, limits);
          return el(
            'tr',
            { class: level ? 'alarm' : '', 'data-value': String(point.value), 'data-at': String(point.at) },
            el('td', {}, formatTime(point.at)),
            el('td', {}, formatValue(sensor, point.value)),
            el('td', {}, STATUS_TEXT[level ?? 'ok']),
          );
        }),
      );
      const level = last ? alarmLevel(last.value, limits) : null;
      latest.textContent = formatValue(sensor, last?.value);
      latestState.textContent = last ? `(${STATUS_TEXT[level ?? 'ok']})` : '';
      root.dataset.alarm = level ?? 'none';
      return level;
    },
    showThresholds(limits) {
      if (editing) return;
      low.value = limits?.low === null || limits?.low === undefined ? '' : String(limits.low);
      high.value = limits?.high === null || limits?.high === undefined ? '' : String(limits.high);
      chart.redraw(false, false);
    },
    onSubmit(submit) {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        message.textContent = 'Saving…';
        delete message.dataset.kind;
        submit(low.value, high.value).then(({ ok, message: text, invalid = [] }) => {
          message.textContent = text;
          if (ok) {
            delete message.dataset.kind;
            editing = false;
          } else message.dataset.kind = 'error';
          low.setAttribute('aria-invalid', String(invalid.includes('low')));
          high.setAttribute('aria-invalid', String(invalid.includes('high')));
        });
      });
    },
  };
}
