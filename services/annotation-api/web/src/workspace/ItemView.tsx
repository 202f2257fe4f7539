import type { Task } from "../api/types";
import { TextContent } from "../tools/span/TextContent";
import type { LoadedMedia } from "../tools/types";

/** The item without a drawing tool (e.g. a choice-only project). */
export function ItemView({ task, media }: { task: Task; media: LoadedMedia }) {
  if (media.kind === "text") return <TextContent text={media.text} />;
  if (media.kind === "image")
    return (
      <div className="image-stage">
        <img className="stage-image" src={media.url} alt={task.item.external_id ?? "item"} draggable={false} />
      </div>
    );
  return <p className="notice">This {task.item.modality} item cannot be shown here yet.</p>;
}
