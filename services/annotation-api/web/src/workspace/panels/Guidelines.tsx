import { useMemo, type ReactNode } from "react";
import type { Region } from "../../api/types";
import { isBbox, isKeypoints, isPolygon, isSpan, withIds } from "../../editor/regions";
import { OffsetMap } from "../../lib/codepoints";
import { labelColor, type LabelDef } from "../../lib/labels";
import { renderMarkdown } from "../../lib/markdown";
import { chunkText, marksByChunk, type Mark } from "../../stage/text/chunks";
import { TextChunk } from "../../stage/text/TextChunk";

interface Props {
  markdown: string;
  labels: readonly LabelDef[];
  open: boolean;
  onToggle(open: boolean): void;
}

interface Example {
  title?: string;
  text?: string;
  image?: string;
  width?: number;
  height?: number;
  result?: Region[];
}

/** An example annotation from the guidelines (a ```example fence holding JSON). */
function ExampleView({ example, labels }: { example: Example; labels: readonly LabelDef[] }): ReactNode {
  const regions = withIds(Array.isArray(example.result) ? example.result : []);
  if (typeof example.text === "string") {
    const text = example.text;
    const map = new OffsetMap(text);
    const chunks = chunkText(text, 1e9);
    const marks: Mark[] = regions.filter(isSpan).map((r) => ({
      id: r.id,
      start: map.toUtf16(r.start),
      end: map.toUtf16(r.end),
      label: r.label,
      color: labelColor(labels, r.label),
      selected: false,
      pending: false,
      invalid: false,
    }));
    const per = marksByChunk(chunks, marks);
    return (
      <figure className="example" data-testid="guideline-example">
        <div className="text-content example-text">
          {chunks.map((c, i) => (
            <TextChunk key={c.start} text={text} chunk={c} index={i} marks={per[i] ?? []} plain />
          ))}
        </div>
        {example.title && <figcaption>{example.title}</figcaption>}
      </figure>
    );
  }
  const w = Number(example.width) || 100;
  const h = Number(example.height) || 100;
  const safe = typeof example.image === "string" && /^(data:image\/|\/(?!\/))/.test(example.image) ? example.image : null;
  return (
    <figure className="example" data-testid="guideline-example">
      <svg viewBox={`0 0 ${w} ${h}`} className="example-image">
        {safe && <image href={safe} width={w} height={h} />}
        {regions.map((r) => {
          const color = labelColor(labels, r.label);
          if (isBbox(r)) return <rect key={r.id} x={r.x} y={r.y} width={r.w} height={r.h} fill="none" stroke={color} strokeWidth={w / 150} />;
          if (isPolygon(r))
            return <polyline key={r.id} points={r.points.map((p) => p.join(",")).join(" ")} fill={r.type === "polygon" ? `${color}33` : "none"} stroke={color} strokeWidth={w / 150} />;
          if (isKeypoints(r)) return <g key={r.id}>{r.points.filter((p) => p[2] > 0).map((p, i) => <circle key={i} cx={p[0]} cy={p[1]} r={w / 100} fill={color} />)}</g>;
          return null;
        })}
      </svg>
      {example.title && <figcaption>{example.title}</figcaption>}
    </figure>
  );
}

/** The schema's guidelines (Markdown, with example annotations), folded away until asked for (G). */
export function GuidelinesPanel({ markdown, labels, open, onToggle }: Props) {
  const body = useMemo(
    () => renderMarkdown(markdown, { renderExample: (example, key) => <ExampleView key={key} example={example as Example} labels={labels} /> }),
    [markdown, labels],
  );
  return (
    <details className="guidelines" data-testid="guidelines" open={open} onToggle={(e) => onToggle((e.currentTarget as HTMLDetailsElement).open)}>
      <summary data-testid="guidelines-toggle">
        Guidelines <kbd>G</kbd>
      </summary>
      <div className="guidelines-text">{body}</div>
    </details>
  );
}
