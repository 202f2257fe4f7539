import { describe, expect, it, vi } from "vitest";
import { fakeApi } from "../../test/fakeApi";
import { ApiError, createApi } from "./client";

describe("api client", () => {
  it("sends the bearer token and relative /api/v1 URLs", async () => {
    const server = fakeApi({ "GET /api/v1/me": { status: 200, body: { id: "u1", username: "ann", role: "annotator" } } });
    const api = createApi({ token: "tok", fetch: server.fetch });
    expect(await api.me()).toEqual({ id: "u1", username: "ann", role: "annotator" });
    expect(server.calls[0]).toMatchObject({ path: "/api/v1/me", auth: "Bearer tok" });
  });

  it("maps 204 from tasks/next to null", async () => {
    const server = fakeApi({ "POST /api/v1/projects/p1/tasks/next": { status: 204 } });
    expect(await createApi({ token: "t", fetch: server.fetch }).nextTask("p1")).toBeNull();
  });

  it("posts result and a rounded lead time", async () => {
    const server = fakeApi({ "POST /api/v1/tasks/t1/submit": { status: 200, body: { id: "t1", state: "submitted" } } });
    await createApi({ token: "t", fetch: server.fetch }).submit("t1", [{ type: "choice", name: "a", value: "b" }], 1234.6);
    expect(server.calls[0]?.body).toEqual({ result: [{ type: "choice", name: "a", value: "b" }], lead_time_ms: 1235 });
  });

  it("turns a 422 into an ApiError with detail and violations", async () => {
    const server = fakeApi({
      "POST /api/v1/tasks/t1/submit": { status: 422, body: { detail: "box too small", violations: [{ rule: "min_box_size", message: "region 0 is 2px wide", region_index: 0 }] } },
    });
    const error = await createApi({ token: "t", fetch: server.fetch }).submit("t1", [], 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, detail: "box too small", violations: [{ message: "region 0 is 2px wide", region_index: 0 }] });
  });

  it("reports 401 to onUnauthorized", async () => {
    const onUnauthorized = vi.fn();
    const server = fakeApi({ "GET /api/v1/projects": { status: 401, body: { detail: "bad token" } } });
    await expect(createApi({ token: "t", fetch: server.fetch, onUnauthorized }).projects()).rejects.toThrow("bad token");
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it("fetches media from the task's media_url as a blob", async () => {
    const fetchImpl = vi.fn(async () => new Response("png", { headers: { "Content-Type": "image/png" } }));
    const blob = await createApi({ token: "t", fetch: fetchImpl as unknown as typeof fetch }).media("/api/v1/tasks/t1/media");
    expect(await blob.text()).toBe("png");
    expect(fetchImpl).toHaveBeenCalledWith("/api/v1/tasks/t1/media", expect.objectContaining({ headers: expect.any(Headers) }));
  });
});
