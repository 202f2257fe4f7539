import { overlayRows, type Shortcut } from "../editor/keymap";

interface Props {
  shortcuts: readonly Shortcut[];
  onClose(): void;
}

/** Every shortcut that works right now, grouped; toggled with "?". */
export function ShortcutOverlay({ shortcuts: all, onClose }: Props) {
  const shortcuts = overlayRows(all);
  const groups = [...new Set(shortcuts.map((s) => s.group))];
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" data-testid="shortcuts" onClick={onClose}>
      <div className="card" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        <div className="shortcut-groups">
        {groups.map((g) => (
          <section key={g}>
            <h3>{g}</h3>
            <table>
              <tbody>
                {shortcuts
                  .filter((s) => s.group === g)
                  .map((s) => (
                    <tr key={`${s.keys}:${s.description}`}>
                      <td>
                        <kbd>{s.keys}</kbd>
                      </td>
                      <td>{s.description}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </section>
        ))}
        </div>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
