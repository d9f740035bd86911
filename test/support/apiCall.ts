// An API call as one of a test's users: JSON in (when there is a body) and JSON out, with the status.
export function apiCaller<Who extends string>(url: () => string, keys: Record<Who, string>) {
  return async (who: Who, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url()}${path}`, {
      method,
      headers: { authorization: `Bearer ${keys[who]}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}
