import { useEffect, useRef, useState, type MouseEvent as ReactMouseEvent } from "react";
import { isBbox, newRegionId } from "../../editor/regions";
import {
  boxFromPoints,
  boxToPercent,
  clampBox,
  clientToImage,
  moveBox,
  resizeBox,
  screenSize,
  type Box,
  type Handle,
  type Point,
  type Size,
} from "../../lib/geometry";
import { labelColor } from "../../lib/labels";
import type { ToolProps } from "../types";
import { BoxView } from "./BoxView";

/** Boxes smaller than this on screen (px) are clicks, not drags. */
const MIN_SCREEN_PX = 3;

type Preview = { kind: "draw"; box: Box } | { kind: "edit"; id: string; box: Box };

/**
 * Bounding boxes: drag on the image to draw (with the active label), click a box to select it, drag the selected
 * box to move it or its corners to resize. Coordinates are pixels of the original image.
 */
export function BboxTool(props: ToolProps) {
  const { media, task, regions, labels, dispatch, selectedId, select, activeLabel, invalidIds } = props;
  const canvasRef = useRef<HTMLDivElement>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const stopGesture = useRef<(() => void) | null>(null);
  const latest = useRef({ activeLabel, labels });
  latest.current = { activeLabel, labels };
  useEffect(() => () => stopGesture.current?.(), []);

  if (media.kind !== "image") return <p className="notice">This item has no image.</p>;
  const image: Size = { width: task.item.width || media.width, height: task.item.height || media.height };
  const rect = () => canvasRef.current!.getBoundingClientRect();
  const toImage = (e: { clientX: number; clientY: number }): Point => clientToImage({ x: e.clientX, y: e.clientY }, rect(), image);

  /** Follow the mouse on the whole window until the button is released. */
  const gesture = (onMove: (p: Point) => void, onEnd: (p: Point) => void) => {
    stopGesture.current?.();
    const move = (e: MouseEvent) => {
      e.preventDefault();
      onMove(toImage(e));
    };
    const stop = () => {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      stopGesture.current = null;
    };
    const up = (e: MouseEvent) => {
      stop();
      setPreview(null);
      onEnd(toImage(e));
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
    stopGesture.current = stop;
  };

  const startDraw = (e: ReactMouseEvent) => {
    if (e.button !== 0) return;
    e.preventDefault();
    const clicked = (e.target as Element).closest("[data-region-id]")?.getAttribute("data-region-id") ?? null;
    const from = toImage(e);
    const boxTo = (to: Point) => clampBox(boxFromPoints(from, to), image);
    setPreview({ kind: "draw", box: boxTo(from) });
    gesture(
      (to) => setPreview({ kind: "draw", box: boxTo(to) }),
      (to) => {
        const box = boxTo(to);
        const onScreen = screenSize(box, rect(), image);
        if (onScreen.width < MIN_SCREEN_PX || onScreen.height < MIN_SCREEN_PX) {
          select(clicked); // a click: select the box under the mouse, or deselect
          return;
        }
        const label = latest.current.activeLabel ?? latest.current.labels[0]?.name;
        if (!label) return;
        const id = newRegionId();
        dispatch({ type: "add", region: { type: "bbox", id, label, ...box } });
        select(id);
      },
    );
  };

  const original = (id: string) => regions.find((r) => r.id === id);

  const startMove = (e: ReactMouseEvent, id: string) => {
    const region = original(id);
    if (e.button !== 0 || !region || !isBbox(region)) return;
    e.preventDefault();
    e.stopPropagation();
    const from = toImage(e);
    const moved = (to: Point) => moveBox(region, to.x - from.x, to.y - from.y, image);
    gesture(
      (to) => setPreview({ kind: "edit", id, box: moved(to) }),
      (to) => {
        const { x, y } = moved(to);
        dispatch({ type: "update", id, patch: { x, y } });
      },
    );
  };

  const startResize = (e: ReactMouseEvent, id: string, handle: Handle) => {
    const region = original(id);
    if (e.button !== 0 || !region || !isBbox(region)) return;
    e.preventDefault();
    e.stopPropagation();
    gesture(
      (to) => setPreview({ kind: "edit", id, box: resizeBox(region, handle, to, image) }),
      (to) => {
        const box = resizeBox(region, handle, to, image);
        if (box.w > 0 && box.h > 0) dispatch({ type: "update", id, patch: { ...box } });
      },
    );
  };

  return (
    <div className="image-stage">
      <img className="stage-image" src={media.url} alt={task.item.external_id ?? "item"} draggable={false} />
      <div ref={canvasRef} className="canvas" data-testid="canvas" onMouseDown={startDraw}>
        {regions.filter(isBbox).map((r) => (
          <BoxView
            key={r.id}
            id={r.id}
            box={preview?.kind === "edit" && preview.id === r.id ? preview.box : r}
            image={image}
            label={r.label}
            color={labelColor(labels, r.label)}
            selected={r.id === selectedId}
            invalid={invalidIds.has(r.id)}
            onMoveStart={startMove}
            onResizeStart={startResize}
          />
        ))}
        {preview?.kind === "draw" && (
          <div
            className="box draft"
            data-testid="draft-region"
            style={{
              ...boxToPercent(preview.box, image),
              borderColor: labelColor(labels, activeLabel ?? labels[0]?.name),
            }}
          />
        )}
      </div>
    </div>
  );
}
