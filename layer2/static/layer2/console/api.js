// Every request the console makes: same origin, JSON in and out, the CSRF token Django's session sign-in needs,
// and failures turned into sentences an operator can act on.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export async function api(url, { method = "GET", body, keepalive = false } = {}) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, keepalive, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("The server cannot be reached: check the network, then try again.", 0, null);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(describe(response.status, data), response.status, data);
  return data;
}

function describe(status, data) {
  if (status === 401 || (status === 403 && /credentials|CSRF/i.test(data?.detail ?? ""))) {
    return "Your session has ended: sign in again (reload the page).";
  }
  if (status === 429) return "The server is busy with too many requests: wait a moment and try again.";
  if (status >= 500 || data === null) {
    return `The server failed to answer (error ${status}). Try again; if it keeps failing, tell the administrator.`;
  }
  if (typeof data.detail === "string") return data.detail;
  return Object.entries(data).map(([field, errors]) => `${field}: ${[errors].flat().join(" ")}`).join("; ");
}
