// Small SVG charts drawn from plain arrays (no chart library): a time series with a y-axis maximum,
// lines or bars, and a text summary for screen readers.
import { svg } from './dom.js';
import { compact } from './format.js';

export interface Series {
  label: string;
  values: Array<number | null>;
  /** CSS class giving the colour (series-a, series-b...). */
  cls: string;
}

export interface ChartOptions {
  title: string;
  unit: string;
  kind: 'line' | 'bar';
  series: Series[];
  /** Minutes the x axis spans (labels only). */
  minutes: number;
  width?: number;
  height?: number;
  /** A sparkline: no axes or labels. */
  spark?: boolean;
}

export function chart(o: ChartOptions): SVGSVGElement {
  const W = o.width ?? 600;
  const H = o.height ?? 140;
  const pad = o.spark ? { l: 1, r: 1, t: 2, b: 2 } : { l: 44, r: 8, t: 10, b: 20 };
  const n = Math.max(1, ...o.series.map((s) => s.values.length));
  const max = Math.max(0, ...o.series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const top = niceMax(max);
  const x = (i: number) => pad.l + (n <= 1 ? 0 : (i / (n - 1)) * (W - pad.l - pad.r));
  const y = (v: number) => H - pad.b - (top === 0 ? 0 : (v / top) * (H - pad.t - pad.b));
  const totals = o.series.map(
    (s) =>
      `${s.label}: ${o.kind === 'bar' ? `${compact(sum(s.values))} in ${o.minutes} min` : `max ${compact(Math.max(0, ...s.values.filter((v): v is number => v !== null)))} ${o.unit}`}`,
  );
  const root = svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, class: o.spark ? 'chart spark' : 'chart', role: 'img', 'aria-label': `${o.title}. ${totals.join('; ')}` },
    svg('title', {}, `${o.title}: ${totals.join('; ')}`),
  );
  if (o.spark) root.appendChild(svg('line', { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, class: 'grid' }));
  else {
    for (const f of [0, 0.5, 1]) {
      const yy = y(top * f);
      root.appendChild(svg('line', { x1: pad.l, x2: W - pad.r, y1: yy, y2: yy, class: 'grid' }));
      root.appendChild(svg('text', { x: pad.l - 4, y: yy + 4, class: 'axis', 'text-anchor': 'end' }, compact(top * f)));
    }
    root.appendChild(svg('text', { x: pad.l, y: H - 4, class: 'axis' }, `−${o.minutes} min`));
    root.appendChild(svg('text', { x: W - pad.r, y: H - 4, class: 'axis', 'text-anchor': 'end' }, 'now'));
  }
  o.series.forEach((s, si) => {
    if (o.kind === 'bar') {
      const bw = Math.max(1, (W - pad.l - pad.r) / n - 1);
      s.values.forEach((v, i) => {
        if (!v) return;
        root.appendChild(svg('rect', { x: x(i) - bw / 2 + si, y: y(v), width: bw, height: Math.max(1, H - pad.b - y(v)), class: `bar ${s.cls}` }));
      });
      return;
    }
    // Gaps (null: no requests in that slot) break the line rather than drawing zeros.
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null) return;
      const before = s.values[i - 1];
      const after = s.values[i + 1];
      const isolated = (before === null || before === undefined) && (after === null || after === undefined);
      // A point with no neighbour (one busy slot) is a dot: a path of one point draws nothing.
      if (isolated) root.appendChild(svg('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: o.spark ? 2 : 3, class: `dot ${s.cls}` }));
      d += `${before === null || before === undefined ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    if (d) root.appendChild(svg('path', { d, class: `line ${s.cls}` }));
  });
  return root;
}

function sum(values: Array<number | null>): number {
  return values.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/** 1, 2, 5 x 10^k at or above v, so grid labels are round. */
function niceMax(v: number): number {
  if (v <= 0) return 0;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
