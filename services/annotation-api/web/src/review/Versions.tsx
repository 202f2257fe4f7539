import { useEffect, useMemo, useState } from "react";
import type { Api } from "../api/client";
import type { Project, Region } from "../api/types";
import { withIds } from "../editor/regions";
import { resolveLabels } from "../lib/labels";
import { TextStage } from "../stage/text/TextStage";
import { resolveTools } from "../tools/registry";
import { annotatorColor, regionBox, type Disagreement, type RegionDiff, type VersionDiff } from "./diff";
import type { ReviewEntry } from "./types";

interface Props {
  api: Api;
  project: Project;
  entry: ReviewEntry;
  diff: Disagreement;
}

/** Every annotator's version side by side, the disagreement highlighted. */
export function Versions({ api, project, entry, diff }: Props) {
  const { item } = entry;
  return (
    <div className="versions">
      <div className="legend">
        {diff.versions.map((v, i) => (
          <span key={v.taskId} className="legend-entry" data-testid="legend-entry">
            <span className="swatch" style={{ background: annotatorColor(i) }} /> {v.annotator}
            <span className={v.disputed ? "badge warn" : "badge"}>{v.disputed} disputed</span>
          </span>
        ))}
      </div>
      {item.modality === "image" && item.media_url && <ImageVersions api={api} url={item.media_url} width={item.width ?? null} height={item.height ?? null} diff={diff} />}
      {item.modality === "text" && typeof item.text === "string" && <TextVersions project={project} text={item.text} diff={diff} />}
      {diff.choices.length > 0 && <ChoiceTable diff={diff} />}
    </div>
  );
}

function useObjectUrl(api: Api, url: string): string | null {
  const [objectUrl, setObjectUrl] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let made: string | null = null;
    api.media(url).then(
      (blob) => {
        if (!alive) return;
        made = URL.createObjectURL(blob);
        setObjectUrl(made);
      },
      () => alive && setObjectUrl(null),
    );
    return () => {
      alive = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [api, url]);
  return objectUrl;
}

function ImageVersions({ api, url, width, height, diff }: { api: Api; url: string; width: number | null; height: number | null; diff: Disagreement }) {
  const src = useObjectUrl(api, url);
  const [size, setSize] = useState<{ w: number; h: number } | null>(width && height ? { w: width, h: height } : null);
  const all = diff.versions.flatMap((v, i) => v.regions.map((r) => ({ r, v, color: annotatorColor(i) })));
  if (!src) return <p className="notice">Loading the image…</p>;
  const figure = (key: string, title: string, shapes: typeof all, testid: string) => (
    <figure key={key} className="version-figure" data-testid={testid}>
      <figcaption>{title}</figcaption>
      <div className="overlay-box">
        <img src={src} alt="" onLoad={(e) => !size && setSize({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })} />
        {size && (
          <svg viewBox={`0 0 ${size.w} ${size.h}`} preserveAspectRatio="none">
            {shapes.map(({ r, v, color }) => (
              <Shape key={`${v.taskId}:${r.index}`} diff={r} version={v} color={color} scale={Math.max(size.w, size.h) / 400} />
            ))}
          </svg>
        )}
      </div>
    </figure>
  );
  return (
    <div className="image-versions">
      {figure("all", "All versions", all, "overlay-all")}
      {diff.versions.map((v, i) => figure(v.taskId, v.annotator, all.filter((s) => s.v === v), `version-${i}`))}
      {diff.versions.some((v) => v.regions.length === 0) && <p className="muted">An empty column: that annotator drew nothing.</p>}
    </div>
  );
}

function Shape({ diff, version, color, scale }: { diff: RegionDiff; version: VersionDiff; color: string; scale: number }) {
  const { region: r, status } = diff;
  const common = {
    "data-testid": "version-region",
    "data-annotator": version.annotator,
    "data-status": status,
    "data-label": String(r.label ?? ""),
    "data-type": r.type,
    className: `shape ${status}`,
    stroke: color,
    strokeWidth: (status === "disputed" ? 3 : 1.5) * scale,
    strokeDasharray: status === "disputed" ? `${6 * scale} ${3 * scale}` : undefined,
    fill: status === "disputed" ? `${color}33` : "none",
  };
  const pts = (points: unknown) => (Array.isArray(points) ? (points as number[][]).map((p) => `${p[0]},${p[1]}`).join(" ") : "");
  let body;
  if (r.type === "bbox" || r.type === "mask") {
    const b = regionBox(r);
    if (!b) return null;
    body = <rect x={b.x} y={b.y} width={b.w} height={b.h} {...common} />;
  } else if (r.type === "polygon") body = <polygon points={pts(r.points)} {...common} />;
  else if (r.type === "polyline") body = <polyline points={pts(r.points)} {...common} fill="none" />;
  else if (r.type === "keypoints" && Array.isArray(r.points)) {
    body = (
      <g {...common}>
        {(r.points as number[][]).filter((p) => p[2] !== 0).map((p, k) => (
          <circle key={k} cx={p[0]} cy={p[1]} r={3 * scale} fill={color} />
        ))}
      </g>
    );
  } else if (r.type === "relation") {
    const ends = [r.from, r.to].map((id) => version.regions.find((x) => x.region.id === id)?.region).map((x) => (x ? regionBox(x) : null));
    if (!ends[0] || !ends[1]) return null;
    const [a, b] = ends as [NonNullable<(typeof ends)[0]>, NonNullable<(typeof ends)[0]>];
    body = <line x1={a.x + a.w / 2} y1={a.y + a.h / 2} x2={b.x + b.w / 2} y2={b.y + b.h / 2} {...common} />;
  } else return null;
  const b = regionBox(r);
  return (
    <g>
      {body}
      {b && typeof r.label === "string" && (
        <text x={b.x + 2 * scale} y={b.y - 3 * scale} fontSize={14 * scale} fill={color} className="shape-label">
          {r.label}
        </text>
      )}
    </g>
  );
}

function TextVersions({ project, text, diff }: { project: Project; text: string; diff: Disagreement }) {
  const tools = useMemo(() => resolveTools(project.schema), [project.schema]);
  const labels = useMemo(() => resolveLabels(project.schema), [project.schema]);
  const plugins = useMemo(() => tools.stage.filter((t) => t.text), [tools]);
  const columns = useMemo(
    () =>
      diff.versions.map((v) => {
        const regions = withIds(v.regions.map((d) => d.region).filter((r: Region) => r.type !== "choice"));
        const disputed = new Set(v.regions.filter((d) => d.region.type !== "choice").flatMap((d, k) => (d.status === "disputed" ? [regions[k]!.id] : [])));
        return { v, regions, disputed };
      }),
    [diff],
  );
  return (
    <div className="text-versions">
      {columns.map(({ v, regions, disputed }, i) => (
        <section key={v.taskId} className="text-version" data-testid={`version-${i}`} style={{ borderTopColor: annotatorColor(i) }}>
          <h4>
            <span className="swatch" style={{ background: annotatorColor(i) }} /> {v.annotator}
          </h4>
          <TextStage text={text} plugins={plugins} regions={regions} labels={labels} selectedId={null} invalidIds={disputed} editor={null} />
          <ul className="span-list">
            {v.regions
              .filter((d) => d.region.type === "span")
              .map((d) => (
                <li key={d.index} data-testid="version-span" data-status={d.status} className={d.status}>
                  <strong>{String(d.region.label)}</strong> “{Array.from(text).slice(Number(d.region.start), Number(d.region.end)).join("")}”
                </li>
              ))}
          </ul>
        </section>
      ))}
    </div>
  );
}

function ChoiceTable({ diff }: { diff: Disagreement }) {
  return (
    <table className="choice-table" data-testid="choice-table">
      <thead>
        <tr>
          <th>choice</th>
          {diff.versions.map((v, i) => (
            <th key={v.taskId} style={{ color: annotatorColor(i) }}>
              {v.annotator}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {diff.choices.map((row) => (
          <tr key={row.name} data-testid={`choice-row-${row.name}`} data-status={row.agreed ? "agreed" : "disputed"} className={row.agreed ? "agreed" : "disputed"}>
            <th>{row.name}</th>
            {row.values.map((value, k) => (
              <td key={k}>{value ?? <span className="muted">none</span>}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
