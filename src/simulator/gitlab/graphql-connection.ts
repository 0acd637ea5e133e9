import { GraphQLError } from "graphql";

/** GitLab's `default_max_page_size` (`app/graphql/gitlab_schema.rb`). */
export const MAX_PAGE_SIZE = 100;

export interface ConnectionArgs {
  readonly first?: number | null;
  readonly after?: string | null;
}

export interface Connection<T> {
  readonly count: number;
  readonly nodes: readonly T[];
  readonly edges: ReadonlyArray<{ readonly cursor: string; readonly node: T }>;
  readonly pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/**
 * A keyset connection over items already in their final order (by id, `desc` or `asc`), as
 * `Gitlab::Graphql::Pagination::Keyset::Connection` pages them: `first` above 100 is capped to
 * 100 without an error, no `first` means 100, and the cursor is base64 of `{"id":"N"}`.
 */
export function connection<T extends { readonly id: number }>(items: readonly T[], args: ConnectionArgs, order: "desc" | "asc" = "desc"): Connection<T> {
  if (args.first !== undefined && args.first !== null && args.first < 0) throw new GraphQLError("Argument 'first' on Field must be non-negative");
  const size = Math.min(args.first ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  const afterId = args.after ? decodeCursor(args.after) : undefined;
  const rest = afterId === undefined ? items : items.filter((item) => (order === "desc" ? item.id < afterId : item.id > afterId));
  const page = rest.slice(0, size);
  const edges = page.map((node) => ({ cursor: encodeCursor(node.id), node }));
  return {
    count: items.length,
    nodes: page,
    edges,
    pageInfo: {
      hasNextPage: rest.length > page.length,
      hasPreviousPage: afterId !== undefined,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

export function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ id: String(id) })).toString("base64");
}

function decodeCursor(cursor: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64").toString("utf8"));
    const id = typeof parsed === "object" && parsed !== null ? Number((parsed as { id?: unknown }).id) : Number.NaN;
    if (Number.isSafeInteger(id)) return id;
  } catch {
    // fall through to GitLab's error
  }
  throw new GraphQLError("Please provide a valid cursor");
}
