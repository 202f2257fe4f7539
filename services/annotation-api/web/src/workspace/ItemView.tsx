import { useEffect } from "react";
import type { Task } from "../api/types";
import { TextStage } from "../stage/text/TextStage";
import type { LoadedMedia } from "../tools/types";

/** The item without a drawing tool (e.g. a choice-only project). */
export function ItemView({ task, media, onReady }: { task: Task; media: LoadedMedia; onReady?(): void }) {
  useEffect(() => {
    if (media.kind === "image") onReady?.();
  }, [media.kind, onReady]);
  if (media.kind === "text") return <TextStage text={media.text} plugins={[]} regions={[]} labels={[]} selectedId={null} invalidIds={new Set()} editor={null} {...(onReady ? { onReady } : {})} />;
  if (media.kind === "image")
    return (
      <div className="image-stage">
        <img className="stage-image" src={media.url} alt={task.item.external_id ?? "item"} draggable={false} />
      </div>
    );
  return <p className="notice">This {task.item.modality} item cannot be shown here yet.</p>;
}
