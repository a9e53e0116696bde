import type {
  AuthResponse,
  CancelEventBody,
  CategoryList,
  CreateEventBody,
  ErrorBody,
  Event,
  EventFeedQuery,
  EventPage,
  EventStats,
  LoginBody,
  MailMessagePage,
  MyParticipationPage,
  ParticipantPage,
  Participation,
  RegisterBody,
  Ticket,
  UpdateEventBody,
  UpdateMeBody,
  User,
} from "@turnout/contracts";
import { ApiError } from "./errors.ts";
import { endSession, getAccessToken, refreshSession, startSession } from "./session.ts";

/*
 * The one typed client of the public API (API.md) that every page uses: bodies and answers are the types of
 * @turnout/contracts, errors come back as ApiError with the contract's code, the access token is attached and
 * refreshed once when it expired.
 */

type Query = Record<string, string | number | undefined>;

interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** Idempotency-Key: one per user intent, so a repeated click or a retry changes nothing twice. */
  idempotencyKey?: string;
  /** If-Match: the version the change was made against. */
  ifMatch?: number;
  /** The media type asked for; the answer is then read as text. JSON when left out. */
  accept?: string;
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await answer(method, path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** An answer that is not JSON (a stored mail), as text. */
async function requestText(path: string, accept: string): Promise<string> {
  const response = await answer("GET", path, { accept });
  return response.text();
}

/** The 2xx answer, after one refresh of an expired token; an ApiError otherwise. */
async function answer(method: string, path: string, options: RequestOptions): Promise<Response> {
  let response = await send(method, path, options);
  if (response.status === 401 && getAccessToken() !== null) {
    const code = await peekCode(response);
    if ((code === "auth.token_expired" || code === "auth.invalid_token") && (await refreshSession()))
      response = await send(method, path, options);
  }
  if (!response.ok) throw await toApiError(response);
  return response;
}

async function send(method: string, path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { accept: options.accept ?? "application/json" };
  const token = getAccessToken();
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
  if (options.ifMatch !== undefined) headers["if-match"] = `"${options.ifMatch}"`;
  try {
    return await fetch(path + toSearch(options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached.");
  }
}

function toSearch(query: Query | undefined): string {
  if (query === undefined) return "";
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

async function peekCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as Partial<ErrorBody>;
    return body.error?.code;
  } catch {
    return undefined;
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as Partial<ErrorBody>;
    if (body.error !== undefined)
      return new ApiError(response.status, body.error.code, body.error.message, body.error.details);
  } catch {
    // Not the contract's body (a proxy's error page): fall through.
  }
  return new ApiError(response.status, "internal", `The server answered ${response.status}.`);
}

const enc = encodeURIComponent;

export const api = {
  auth: {
    async register(body: RegisterBody): Promise<User> {
      const answer = await request<AuthResponse>("POST", "/api/auth/register", { body });
      startSession(answer);
      return answer.user;
    },
    async login(body: LoginBody): Promise<User> {
      const answer = await request<AuthResponse>("POST", "/api/auth/login", { body });
      startSession(answer);
      return answer.user;
    },
    async logout(): Promise<void> {
      try {
        await request<undefined>("POST", "/api/auth/logout", { body: {} });
      } finally {
        endSession();
      }
    },
  },
  me: {
    get: () => request<User>("GET", "/api/me"),
    update: (body: UpdateMeBody, idempotencyKey: string) =>
      request<User>("PATCH", "/api/me", { body, idempotencyKey }),
    events: (cursor?: string) =>
      request<EventPage>("GET", "/api/me/events", { query: { cursor, limit: 50 } }),
    participations: (cursor?: string) =>
      request<MyParticipationPage>("GET", "/api/me/participations", { query: { cursor, limit: 50 } }),
    calendarUrl: () => request<{ url: string }>("GET", "/api/me/calendar-url"),
  },
  events: {
    list: (query: Partial<EventFeedQuery>) => request<EventPage>("GET", "/api/events", { query }),
    categories: () => request<CategoryList>("GET", "/api/categories"),
    get: (id: string) => request<Event>("GET", `/api/events/${enc(id)}`),
    create: (body: Partial<CreateEventBody>, idempotencyKey: string) =>
      request<Event>("POST", "/api/events", { body, idempotencyKey }),
    update: (id: string, body: UpdateEventBody, version: number, idempotencyKey: string) =>
      request<Event>("PATCH", `/api/events/${enc(id)}`, { body, ifMatch: version, idempotencyKey }),
    publish: (id: string, idempotencyKey: string) =>
      request<Event>("POST", `/api/events/${enc(id)}/publish`, { body: {}, idempotencyKey }),
    cancel: (id: string, body: CancelEventBody, idempotencyKey: string) =>
      request<Event>("POST", `/api/events/${enc(id)}/cancel`, { body, idempotencyKey }),
    stats: (id: string) => request<EventStats>("GET", `/api/events/${enc(id)}/stats`),
  },
  participation: {
    get: (eventId: string) => request<Participation>("GET", `/api/events/${enc(eventId)}/participation`),
    join: (eventId: string, idempotencyKey: string) =>
      request<Participation>("POST", `/api/events/${enc(eventId)}/join`, { body: {}, idempotencyKey }),
    leave: (eventId: string, idempotencyKey: string) =>
      request<Participation>("DELETE", `/api/events/${enc(eventId)}/join`, { idempotencyKey }),
    ticket: (eventId: string) => request<Ticket>("GET", `/api/events/${enc(eventId)}/ticket`),
    participants: (eventId: string, status: "confirmed" | "waitlisted", cursor?: string) =>
      request<ParticipantPage>("GET", `/api/events/${enc(eventId)}/participants`, {
        query: { status, cursor, limit: 100 },
      }),
    remove: (eventId: string, userId: string, reason: string, idempotencyKey: string) =>
      request<Participation>("DELETE", `/api/events/${enc(eventId)}/participants/${enc(userId)}`, {
        query: { reason: reason === "" ? undefined : reason },
        idempotencyKey,
      }),
  },
  admin: {
    mails: (cursor?: string) =>
      request<MailMessagePage>("GET", "/api/admin/mail", { query: { cursor, limit: 50 } }),
    /** The stored .eml of one mail (embedded mode), as text. */
    mailFile: (id: string) => requestText(`/api/admin/mail/${enc(id)}/eml`, "message/rfc822"),
  },
};

/** A fresh Idempotency-Key for one intent (one click of "Join", one submit of a form). */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}
