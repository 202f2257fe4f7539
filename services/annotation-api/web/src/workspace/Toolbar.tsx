import type { ReactNode } from "react";
import type { Shortcut, ViewOp } from "../editor/keymap";
import type { ToolPlugin } from "../tools/types";

interface Props {
  tools: readonly ToolPlugin[];
  current: ToolPlugin | undefined;
  shortcuts: readonly Shortcut[];
  onPick(tool: ToolPlugin): void;
  /** Image items: the zoom buttons. */
  zoom: ((op: ViewOp) => void) | null;
  labels: ReactNode;
}

/** The drawing tools (with their keys), the zoom buttons and the labels. */
export function Toolbar({ tools, current, shortcuts, onPick, zoom, labels }: Props) {
  const keyOf = (name: string) => shortcuts.find((s) => s.command.kind === "selectTool" && s.command.tool === name)?.keys;
  const pickable = tools.filter((t) => t.image?.session || t.text);
  return (
    <div className="toolbar">
      {pickable.length > 1 && (
        <div className="tool-group" role="toolbar" aria-label="Tools">
          {pickable.map((t) => {
            const key = keyOf(t.name);
            return (
              <button
                key={t.name}
                type="button"
                className="tool-button"
                data-testid={`tool-${t.name}`}
                aria-pressed={t === current}
                title={`${t.title}${t.hint ? `: ${t.hint}` : ""}${key ? ` (${key})` : ""}`}
                onMouseDown={(e) => e.preventDefault()}
                onClick={() => onPick(t)}
              >
                {t.title}
                {key && <kbd>{key}</kbd>}
              </button>
            );
          })}
        </div>
      )}
      {zoom && (
        <div className="tool-group" aria-label="Zoom">
          <button type="button" data-testid="zoom-out" title="Zoom out (-)" onMouseDown={(e) => e.preventDefault()} onClick={() => zoom("zoomOut")}>
            −
          </button>
          <button type="button" data-testid="zoom-fit" title="Fit (F)" onMouseDown={(e) => e.preventDefault()} onClick={() => zoom("fit")}>
            Fit
          </button>
          <button type="button" data-testid="zoom-in" title="Zoom in (=)" onMouseDown={(e) => e.preventDefault()} onClick={() => zoom("zoomIn")}>
            +
          </button>
        </div>
      )}
      {labels}
    </div>
  );
}
