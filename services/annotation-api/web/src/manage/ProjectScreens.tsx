// The review and management screens as the app shell opens them (App.tsx): buttons on the project list, and the
// screen for the chosen project.
import type { Api } from "../api/client";
import type { Me, Project, Role } from "../api/types";
import { ReviewQueue } from "../review/ReviewQueue";
import { CreateProject } from "./CreateProject";
import { ManageProject } from "./ManageProject";

export type Screen = "label" | "review" | "manage" | "create";

const RANK: Record<Role, number> = { annotator: 0, reviewer: 1, manager: 2, admin: 3 };
export const atLeast = (me: Me, role: Role) => RANK[me.role] >= RANK[role];

export function ProjectActions({ me, project, onOpen }: { me: Me; project: Project; onOpen(screen: Screen, project: Project | null): void }) {
  return (
    <span className="project-actions">
      {atLeast(me, "reviewer") && (
        <button type="button" data-testid={`review-${project.name}`} onClick={() => onOpen("review", project)}>
          Review
        </button>
      )}
      {atLeast(me, "manager") && (
        <button type="button" data-testid={`manage-${project.name}`} onClick={() => onOpen("manage", project)}>
          Manage
        </button>
      )}
    </span>
  );
}

export function NewProjectButton({ me, onOpen }: { me: Me; onOpen(screen: Screen, project: Project | null): void }) {
  if (!atLeast(me, "manager")) return null;
  return (
    <button type="button" className="primary" data-testid="new-project" onClick={() => onOpen("create", null)}>
      New project
    </button>
  );
}

export function ProjectScreen(props: { api: Api; screen: Screen; project: Project | null; onOpen(screen: Screen, project: Project | null): void }) {
  const { api, screen, project, onOpen } = props;
  if (screen === "create") return <CreateProject api={api} onCreated={(p) => onOpen("manage", p)} onCancel={() => onOpen("label", null)} />;
  if (!project) return null;
  if (screen === "review") return <ReviewQueue key={project.id} api={api} project={project} />;
  return <ManageProject key={project.id} api={api} project={project} onReview={(p) => onOpen("review", p)} />;
}
