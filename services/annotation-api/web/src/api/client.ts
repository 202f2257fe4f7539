import type { AssistReply, AssistRequest, Comment, Draft, Flag, LeaseReply, Me, Project, Region, Rework, Task, Violation } from "./types";

export const API_BASE = "/api/v1";

/** An HTTP error from the API: `detail` is the server's message, `violations` come with a 422 from submit. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly violations: readonly Violation[] = [],
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

export interface ApiOptions {
  token: string;
  fetch?: typeof fetch;
  /** Called on any 401 so the app can sign out. */
  onUnauthorized?: () => void;
}

export interface Api {
  me(): Promise<Me>;
  projects(): Promise<Project[]>;
  /** The next task, or null when the server answers 204 (nothing left for this annotator). */
  nextTask(projectId: string): Promise<Task | null>;
  submit(taskId: string, result: readonly Region[], leadTimeMs: number): Promise<Task>;
  skip(taskId: string, reason?: string): Promise<void>;
  heartbeat(taskId: string): Promise<{ lease_expires_at?: string | null }>;
  /** Bytes of a media URL (relative to the origin), fetched with the bearer header. */
  media(url: string): Promise<Blob>;
  /** The annotator's held leases topped up to `count` (the current task and the pre-loaded ones). */
  lease(projectId: string, count: number): Promise<LeaseReply>;
  /** The server-side draft of a held task, or null when there is none. */
  getDraft(taskId: string): Promise<Draft | null>;
  /** `keepalive` lets the request outlive the page (pagehide). */
  putDraft(taskId: string, result: readonly Region[], leadTimeMs: number, keepalive?: boolean): Promise<void>;
  deleteDraft(taskId: string): Promise<void>;
  flag(taskId: string, reason: string): Promise<Flag>;
  comments(taskId: string): Promise<Comment[]>;
  addComment(taskId: string, body: string): Promise<Comment>;
  rework(taskId: string): Promise<Rework>;
  assist(taskId: string, request: AssistRequest): Promise<AssistReply>;
  /** Any other JSON route under /api/v1 (review and management screens); null for a 204. */
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The raw response of a route under /api/v1 (downloads, multipart uploads: a FormData body is sent as is). */
  raw(path: string, init?: RequestInit): Promise<Response>;
}

function mediaPath(url: string): string {
  // media_url is documented as an absolute path ("/api/v1/tasks/<id>/media"); accept a bare relative one too.
  return url.startsWith("/") || /^https?:\/\//.test(url) ? url : `${API_BASE}/${url}`;
}

async function errorFrom(response: Response): Promise<ApiError> {
  let detail = `${response.status} ${response.statusText}`.trim();
  let violations: Violation[] = [];
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object") {
      const b = body as { detail?: unknown; violations?: unknown };
      if (typeof b.detail === "string") detail = b.detail;
      else if (Array.isArray(b.detail)) detail = b.detail.map(describeValidationItem).join("; ");
      if (Array.isArray(b.violations)) {
        violations = b.violations.filter(
          (v): v is Violation => !!v && typeof v === "object" && typeof (v as Violation).message === "string",
        );
      }
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, detail, violations);
}

/** FastAPI request-validation items ({loc, msg}) become "field: message". */
function describeValidationItem(item: unknown): string {
  if (item && typeof item === "object") {
    const { loc, msg } = item as { loc?: unknown; msg?: unknown };
    const where = Array.isArray(loc) ? loc.join(".") : "";
    return where ? `${where}: ${String(msg)}` : String(msg);
  }
  return String(item);
}

export function createApi({ token, fetch: fetchImpl = globalThis.fetch.bind(globalThis), onUnauthorized }: ApiOptions): Api {
  async function send(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${token}`);
    if (init.body !== undefined && !(init.body instanceof FormData)) headers.set("Content-Type", "application/json");
    const response = await fetchImpl(path, { ...init, headers });
    if (!response.ok) {
      if (response.status === 401) onUnauthorized?.();
      throw await errorFrom(response);
    }
    return response;
  }
  const json = async <T>(path: string, init?: RequestInit): Promise<T> => (await send(`${API_BASE}${path}`, init)).json() as Promise<T>;
  const post = (body?: unknown): RequestInit => ({
    method: "POST",
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

  return {
    me: () => json<Me>("/me"),
    projects: () => json<Project[]>("/projects"),
    async nextTask(projectId) {
      const response = await send(`${API_BASE}/projects/${encodeURIComponent(projectId)}/tasks/next`, post());
      return response.status === 204 ? null : ((await response.json()) as Task);
    },
    submit: (taskId, result, leadTimeMs) =>
      json<Task>(`/tasks/${encodeURIComponent(taskId)}/submit`, post({ result, lead_time_ms: Math.max(0, Math.round(leadTimeMs)) })),
    async skip(taskId, reason) {
      await send(`${API_BASE}/tasks/${encodeURIComponent(taskId)}/skip`, post(reason ? { reason } : {}));
    },
    heartbeat: (taskId) => json(`/tasks/${encodeURIComponent(taskId)}/heartbeat`, post()),
    async media(url) {
      return (await send(mediaPath(url))).blob();
    },
    lease: (projectId, count) => json<LeaseReply>(`/projects/${encodeURIComponent(projectId)}/tasks/lease`, post({ count })),
    async getDraft(taskId) {
      const response = await send(`${API_BASE}/tasks/${encodeURIComponent(taskId)}/draft`);
      return response.status === 204 ? null : ((await response.json()) as Draft);
    },
    async putDraft(taskId, result, leadTimeMs, keepalive = false) {
      await send(`${API_BASE}/tasks/${encodeURIComponent(taskId)}/draft`, {
        method: "PUT",
        body: JSON.stringify({ result, lead_time_ms: Math.max(0, Math.round(leadTimeMs)) }),
        keepalive,
      });
    },
    async deleteDraft(taskId) {
      await send(`${API_BASE}/tasks/${encodeURIComponent(taskId)}/draft`, { method: "DELETE" });
    },
    flag: (taskId, reason) => json<Flag>(`/tasks/${encodeURIComponent(taskId)}/flag`, post({ reason })),
    comments: (taskId) => json<Comment[]>(`/tasks/${encodeURIComponent(taskId)}/comments`),
    addComment: (taskId, body) => json<Comment>(`/tasks/${encodeURIComponent(taskId)}/comments`, post({ body })),
    rework: (taskId) => json<Rework>(`/tasks/${encodeURIComponent(taskId)}/rework`),
    assist: (taskId, request) => json<AssistReply>(`/tasks/${encodeURIComponent(taskId)}/assist`, post(request)),
    async request<T>(method: string, path: string, body?: unknown) {
      const response = await send(`${API_BASE}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return (response.status === 204 ? null : await response.json()) as T;
    },
    raw: (path, init) => send(`${API_BASE}${path}`, init),
  };
}
