import { parse as parseVega, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { CurvePoint } from './curves.js';

export interface PlotOptions {
  readonly metric: string;
  readonly title?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * The figure as a Vega-Lite spec: per method, its mean over seeds as a line and the 95%
 * bootstrap CI as a band; the legend gives each method's seed count.
 */
export function curvesSpec(groups: ReadonlyMap<string, readonly CurvePoint[]>, o: PlotOptions): TopLevelSpec {
  const values = [...groups].flatMap(([name, pts]) => {
    const seeds = Math.max(0, ...pts.map((p) => p.n));
    const label = `${name} (${seeds} seed${seeds === 1 ? '' : 's'})`;
    return pts.map((p) => ({ method: label, step: p.step, mean: p.mean, lo: p.lo, hi: p.hi }));
  });
  const color = { field: 'method', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: o.title ?? o.metric, subtitle: 'mean over seeds, 95% bootstrap CI' },
    width: o.width ?? 480,
    height: o.height ?? 300,
    background: 'white',
    data: { values },
    encoding: { x: { field: 'step', type: 'quantitative', title: 'environment steps', axis: { format: '~s' } } },
    layer: [
      { mark: { type: 'area', opacity: 0.2 }, encoding: { y: { field: 'lo', type: 'quantitative', title: o.metric, scale: { zero: false } }, y2: { field: 'hi' }, color: color } },
      { mark: { type: 'line', strokeWidth: 2 }, encoding: { y: { field: 'mean', type: 'quantitative' }, color } },
    ],
    config: { font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif', axis: { grid: true, gridOpacity: 0.4 }, view: { stroke: null }, legend: { symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 } },
  } as TopLevelSpec;
}

/** Renders a Vega-Lite spec to SVG text (no browser, no canvas). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parseVega(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG to PNG through resvg (system fonts), at `scale`× the SVG's size. */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const r = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' });
  return Buffer.from(r.render().asPng());
}
