/**
 * What an informer needs of the API server, whatever carries it: a list call that returns one
 * page, and a watch that calls back per event. `client.ts` implements both over the KubeConfig;
 * tests implement them with fakes.
 */

export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** Absent on the last page. */
  readonly continueToken: string | undefined;
}

export type Lister = (request: { readonly limit: number; readonly continueToken: string | undefined; readonly signal: AbortSignal }) => Promise<ListPage>;

export interface WatchHandle {
  abort(): void;
}

export interface WatchCallbacks {
  /** The server accepted the watch (HTTP 200). */
  opened(): void;
  event(type: string, object: unknown): void;
  /** The stream ended: null when it closed cleanly, else the error. Called at most once. */
  done(error: unknown): void;
}

export type WatchOpener = (path: string, query: Readonly<Record<string, string | number | boolean>>, callbacks: WatchCallbacks) => WatchHandle;

/** 410 Gone: as an ERROR event's Status, a watch HTTP status, or a list ApiException. */
export function isGone(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  return statusCode === 410 || code === 410;
}
