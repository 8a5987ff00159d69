/**
 * Key Vault list paging: `value` plus a `nextLink` carrying an opaque `$skiptoken`.
 *
 * The token records the sort key of the last item served rather than an offset, so secrets created
 * or deleted between two page requests neither repeat nor vanish from the listing. It also counts
 * the pages served, because Key Vault's pages may be empty and still carry a `nextLink` (a client
 * that stops at the first empty page misses secrets): every `emptyPageEvery`-th page, the first
 * included, is served empty while items remain.
 */
import { badParameter } from "./errors.ts";
import { MAX_PAGE_SIZE } from "./model.ts";

/** One page of a list response. Key Vault sends `"nextLink": null` on the last page. */
export interface Page {
  readonly value: unknown[];
  readonly nextLink: string | null;
}

/** A list to page: items sorted ascending by `keyOf`, each rendered to JSON by `render`. */
export interface PageSource<T> {
  readonly items: readonly T[];
  readonly keyOf: (item: T) => string;
  readonly render: (item: T) => unknown;
}

/**
 * Returns the page selected by `query` (`maxresults`, `$skiptoken`). `listUrl` is the absolute URL
 * of the list operation, which `nextLink` repeats with the paging parameters.
 */
export function paginate<T>(source: PageSource<T>, query: URLSearchParams, listUrl: string, emptyPageEvery: number): Page {
  const size = pageSize(query);
  const { after, page: index } = decodeSkipToken(query.get("$skiptoken"));
  const remaining = after === undefined ? source.items : source.items.filter((item) => source.keyOf(item) > after);
  const link = (position: string | undefined): string => {
    const next = new URLSearchParams({
      "api-version": query.get("api-version") ?? "",
      $skiptoken: encodeSkipToken({ ...(position === undefined ? {} : { after: position }), page: index + 1 }),
      maxresults: String(size),
    });
    // URLSearchParams would escape `$`; Key Vault writes `$skiptoken` literally.
    return `${listUrl}?${next.toString().replace("%24skiptoken", "$skiptoken")}`;
  };
  if (emptyPageEvery > 0 && index % emptyPageEvery === 0 && remaining.length > 0) return { value: [], nextLink: link(after) };
  const page = remaining.slice(0, size);
  const last = page.at(-1);
  const nextLink = last !== undefined && remaining.length > page.length ? link(source.keyOf(last)) : null;
  return { value: page.map(source.render), nextLink };
}

/** `maxresults`: 1–25, default 25. A larger value is refused, as by the service. */
function pageSize(query: URLSearchParams): number {
  const raw = query.get("maxresults");
  if (raw === null || raw === "") return MAX_PAGE_SIZE;
  const size = Number(raw);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    // Real Key Vault refuses maxresults above 25 (Azure/azure-sdk-for-net#19802); the text is unverified.
    throw badParameter(`Invalid value for maxresults: ${raw}. The value must be between 1 and ${MAX_PAGE_SIZE}.`);
  }
  return size;
}

/** Where a listing stands: after which sort key, and how many pages were served before. */
interface Position {
  readonly after?: string;
  readonly page: number;
}

function encodeSkipToken(position: Position): string {
  return Buffer.from(JSON.stringify(position), "utf8").toString("base64url");
}

function decodeSkipToken(token: string | null): Position {
  if (token === null || token === "") return { page: 0 };
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { after?: unknown; page?: unknown };
    const { after, page } = parsed;
    if ((after === undefined || typeof after === "string") && typeof page === "number" && Number.isSafeInteger(page) && page > 0) {
      return { ...(after === undefined ? {} : { after }), page };
    }
  } catch {
    // Fall through to the error below.
  }
  throw badParameter("The $skiptoken is invalid.");
}
