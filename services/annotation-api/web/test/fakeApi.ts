// A scripted stand-in for the REST API, for component tests.
export interface Call {
  method: string;
  path: string;
  auth: string | null;
  body: unknown;
}

type Reply = { status: number; body?: unknown } | ((call: Call) => { status: number; body?: unknown });

export function fakeApi(routes: Record<string, Reply | Reply[]>) {
  const calls: Call[] = [];
  const queues = new Map(Object.entries(routes).map(([k, v]) => [k, Array.isArray(v) ? [...v] : [v]]));
  const fetchImpl = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const method = (init.method ?? "GET").toUpperCase();
    const path = String(input);
    const call: Call = {
      method,
      path,
      auth: new Headers(init.headers).get("Authorization"),
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    const queue = queues.get(`${method} ${path}`);
    if (!queue || queue.length === 0) return new Response(JSON.stringify({ detail: `no route ${method} ${path}` }), { status: 404 });
    const next = queue.length > 1 ? queue.shift()! : queue[0]!;
    const reply = typeof next === "function" ? next(call) : next;
    return reply.status === 204
      ? new Response(null, { status: 204 })
      : new Response(JSON.stringify(reply.body ?? {}), { status: reply.status, headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
  return { fetch: fetchImpl, calls };
}
