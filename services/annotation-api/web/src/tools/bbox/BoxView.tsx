import type { MouseEvent as ReactMouseEvent } from "react";
import { boxToPercent, type Box, type Handle, type Size } from "../../lib/geometry";

const HANDLES: readonly Handle[] = ["nw", "ne", "sw", "se"];

interface Props {
  id: string;
  box: Box;
  image: Size;
  label: string;
  color: string;
  selected: boolean;
  invalid: boolean;
  onMoveStart(e: ReactMouseEvent, id: string): void;
  onResizeStart(e: ReactMouseEvent, id: string, handle: Handle): void;
}

/** One box over the image, positioned in percent of the image so it follows any display size. */
export function BoxView({ id, box, image, label, color, selected, invalid, onMoveStart, onResizeStart }: Props) {
  return (
    <div
      className={`box${selected ? " selected" : ""}${invalid ? " invalid" : ""}`}
      data-testid="region"
      data-region-id={id}
      data-label={label}
      aria-selected={selected}
      style={{ ...boxToPercent(box, image), borderColor: color, ["--label-color" as string]: color }}
      onMouseDown={selected ? (e) => onMoveStart(e, id) : undefined}
    >
      <span className="box-label" style={{ backgroundColor: color }}>
        {label}
      </span>
      {selected &&
        HANDLES.map((h) => (
          <span key={h} className={`handle handle-${h}`} data-handle={h} onMouseDown={(e) => onResizeStart(e, id, h)} />
        ))}
    </div>
  );
}
