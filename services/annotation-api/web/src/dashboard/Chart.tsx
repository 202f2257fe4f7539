import { useEffect, useRef } from "react";
import type uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartData } from "./series";

export const PALETTE = ["#2f6fed", "#e6194b", "#3cb44b", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#808000", "#000075"];

interface Props {
  title: string;
  data: ChartData;
  /** Unit of the y axis, shown after the values ("%", "s"). */
  unit?: string;
  height?: number;
  testId: string;
}

function canDraw(): boolean {
  return typeof document !== "undefined" && !!document.createElement("canvas").getContext("2d");
}

/** One uPlot line chart over UTC buckets; redrawn when the data change, resized with its container. */
export function Chart({ title, data, unit = "", height = 220, testId }: Props) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || !canDraw() || data.x.length === 0) return;
    let plot: uPlot | null = null;
    let observer: ResizeObserver | null = null;
    let live = true;
    // loaded on first use: the library stays out of the main bundle (and out of jsdom, which lacks matchMedia)
    void import("uplot").then(({ default: UPlot }) => {
      if (!live) return;
      const opts: uPlot.Options = {
        width: Math.max(240, el.clientWidth),
        height,
        tzDate: (ts) => UPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        // percentages stay on 0..100 (a single point would otherwise get an arbitrary range)
        scales: unit === "%" ? { x: { time: true }, y: { range: [0, 100] } } : { x: { time: true } },
        axes: [{}, { values: (_u, ticks) => ticks.map((v) => `${v}${unit}`), size: 56 }],
        series: [
          { label: "UTC" },
          ...data.lines.map((line, i) => ({
            label: line.label,
            stroke: PALETTE[i % PALETTE.length],
            width: 2,
            points: { show: true, size: 5 },
            spanGaps: false,
          })),
        ],
      };
      const made = new UPlot(opts, [data.x, ...data.lines.map((l) => l.values)] as uPlot.AlignedData, el);
      plot = made;
      el.dataset.drawn = "true";
      if (typeof ResizeObserver !== "undefined") {
        observer = new ResizeObserver(() => made.setSize({ width: Math.max(240, el.clientWidth), height }));
        observer.observe(el);
      }
    });
    return () => {
      live = false;
      observer?.disconnect();
      plot?.destroy();
    };
  }, [data, unit, height]);
  return (
    <figure className="dash-chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      {data.lines.length === 0 || data.x.length === 0 ? <p className="muted">No data in this range.</p> : <div ref={box} />}
    </figure>
  );
}
