import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { SENSORS, type SensorName, type Thresholds } from '../sensors.js';
import type { ChartPoint } from './history.js';

const COLORS: Record<SensorName, string> = { temperature: '#c2410c', humidity: '#1d4ed8', light: '#a16207' };

/**
 * uPlot rather than Chart.js: ~50 KB minified against ~200 KB, and it draws
 * straight to one canvas with no per-point objects or animation, so a
 * redraw per animation frame at streaming rates stays well under a
 * millisecond for a few hundred points.
 */
export function createChart(
  sensor: SensorName,
  container: HTMLElement,
  thresholds: () => Thresholds | undefined,
): uPlot {
  const { label, unit } = SENSORS[sensor];
  const drawThresholds = (u: uPlot) => {
    const limits = thresholds();
    if (!limits) return;
    const { ctx, bbox } = u;
    ctx.save();
    ctx.strokeStyle = '#b3261e';
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
    for (const limit of [limits.low, limits.high]) {
      if (limit === null) continue;
      const y = u.valToPos(limit, 'y', true);
      if (y < bbox.top || y > bbox.top + bbox.height) continue;
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
    }
    ctx.restore();
  };
  return new uPlot(
    {
      width: Math.max(280, container.clientWidth),
      height: 200,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      series: [
        {},
        { label: `${label} (${unit})`, stroke: COLORS[sensor], width: 2, points: { show: false } },
        // A bucket's min and max: a one-second spike stays visible on a week's chart.
        { label: 'min', stroke: `${COLORS[sensor]}55`, width: 1, points: { show: false } },
        { label: 'max', stroke: `${COLORS[sensor]}55`, width: 1, points: { show: false } },
      ],
      axes: [{}, { label: unit, size: 60 }],
      hooks: { draw: [drawThresholds] },
    },
    [[], [], [], []],
    container,
  );
}

/** uPlot wants seconds on a time axis and columns, not rows; a single reading has no min/max line. */
export function toColumns(points: readonly ChartPoint[]): uPlot.AlignedData {
  const xs = new Array<number>(points.length);
  const ys = new Array<number>(points.length);
  const mins = new Array<number | null>(points.length);
  const maxs = new Array<number | null>(points.length);
  points.forEach((point, i) => {
    xs[i] = point.at / 1000;
    ys[i] = point.value;
    mins[i] = point.min;
    maxs[i] = point.max;
  });
  return [xs, ys, mins, maxs];
}
