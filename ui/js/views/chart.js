import uPlot from "uplot";
import { html, useEffect, useRef } from "../lib.js";

export const PALETTE = ["#3b82f6", "#22c55e", "#f59e0b", "#ef4444", "#a855f7", "#14b8a6", "#ec4899", "#84cc16"];

function options(title, series, width, height, yFormat) {
  return {
    width,
    height,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    axes: [
      { stroke: "#94a3b8", grid: { stroke: "#1e293b" }, ticks: { stroke: "#334155" } },
      { stroke: "#94a3b8", grid: { stroke: "#1e293b" }, ticks: { stroke: "#334155" }, size: 64, values: (u, vals) => vals.map((v) => yFormat(v)) },
    ],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: s.stroke ?? PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, points: { show: false }, value: (u, v) => (v == null ? "–" : yFormat(v)) }))],
  };
}

/**
 * A live line chart of history series (the last 15 minutes). Re-draws only when the store's
 * version moves; re-builds only when the set of series changes.
 */
export function Chart({ title, history, series, version, yFormat = (v) => String(+v.toFixed(2)), height = 180, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  const ident = series.map((s) => `${s.key}/${s.field}/${s.label}`).join("|");
  const pairs = () => series.map((s) => [s.key, s.field]);

  useEffect(() => {
    const el = box.current;
    const width = Math.max(200, el.clientWidth);
    plot.current = new uPlot(options(title, series, width, height, yFormat), history.data(pairs()), el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [ident, height]);

  useEffect(() => {
    plot.current?.setData(history.data(pairs()));
  }, [version]);

  const first = series[0];
  const last = first ? history.latest(first.key, first.field) : null;
  return html`
    <figure class="chart" data-testid=${testid} data-last=${last ?? ""}>
      <figcaption>${title}</figcaption>
      <div class="plot" ref=${box}></div>
    </figure>
  `;
}
