import type { LabelDef } from "../lib/labels";

interface Props {
  labels: readonly LabelDef[];
  active: string | null;
  onPick(label: string): void;
}

/** The labels with their hotkeys; clicking one acts like pressing its hotkey. */
export function LabelBar({ labels, active, onPick }: Props) {
  return (
    <div className="label-bar" role="toolbar" aria-label="Labels">
      {labels.map((l) => (
        <button
          key={l.name}
          type="button"
          className="label-button"
          data-testid={`label-${l.name}`}
          aria-pressed={l.name === active}
          style={{ ["--label-color" as string]: l.color }}
          // keep the text selection and keyboard focus where they are
          onMouseDown={(e) => e.preventDefault()}
          onClick={() => onPick(l.name)}
        >
          <span className="swatch" />
          {l.name}
          {l.hotkey && <kbd>{l.hotkey}</kbd>}
        </button>
      ))}
    </div>
  );
}
