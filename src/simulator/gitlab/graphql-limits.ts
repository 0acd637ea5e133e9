import {
  getArgumentValues,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";
import { MAX_PAGE_SIZE } from "./graphql-connection.js";
import { RESOLVER_FIELDS } from "./graphql-schema.js";
import type { Viewer } from "./graphql-resolvers.js";

/** `GitlabSchema::DEFAULT_MAX_COMPLEXITY`, `AUTHENTICATED_MAX_COMPLEXITY`, `ADMIN_MAX_COMPLEXITY` (`app/graphql/gitlab_schema.rb`). */
export function maxComplexity(viewer: Viewer): number {
  return viewer === "admin" ? 300 : viewer === "user" ? 250 : 200;
}

/** `DEFAULT_MAX_DEPTH` 15, `AUTHENTICATED_MAX_DEPTH` 20 (`app/graphql/gitlab_schema.rb`). */
export function maxDepth(viewer: Viewer): number {
  return viewer === "anonymous" ? 15 : 20;
}

/** `GraphqlController::MAX_QUERY_SIZE`: longer query text is a 422 "Query too large". */
export const MAX_QUERY_SIZE = 10_000;

interface Walk {
  readonly schema: GraphQLSchema;
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  readonly variables: Record<string, unknown>;
}

/**
 * GitLab's query complexity: a resolver-backed field costs `(children + 1 + extra)`, times
 * `1 + 0.01 × min(first, 100)` when it is a connection (`types/base_field.rb`,
 * `resolvers/base_resolver.rb`: `sort` +1, `search` +5; `NamespaceProjectsResolver` +10,
 * `ProjectPipelinesResolver` +1 and +2 for each of `sha`/`ref`); any other field costs 1 plus its
 * children; `__typename` is free.
 */
export function queryComplexity(schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, variables: Record<string, unknown>): number {
  const root = schema.getQueryType();
  if (!root) return 0;
  return selectionComplexity({ schema, fragments, variables }, root, operation.selectionSet);
}

function selectionComplexity(walk: Walk, parent: GraphQLNamedType, selectionSet: SelectionSetNode): number {
  let total = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? walk.schema.getType(selection.typeCondition.name.value) : parent;
      if (type) total += selectionComplexity(walk, type, selection.selectionSet);
      continue;
    }
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = walk.fragments.get(selection.name.value);
      const type = fragment ? walk.schema.getType(fragment.typeCondition.name.value) : undefined;
      if (fragment && type) total += selectionComplexity(walk, type, fragment.selectionSet);
      continue;
    }
    if (selection.name.value.startsWith("__") || !(isObjectType(parent) || isInterfaceType(parent))) continue;
    const field = parent.getFields()[selection.name.value];
    if (!field) continue;
    const children = selection.selectionSet ? selectionComplexity(walk, getNamedType(field.type), selection.selectionSet) : 0;
    const key = `${parent.name}.${field.name}`;
    const resolver = RESOLVER_FIELDS.get(key);
    if (!resolver) {
      total += 1 + children;
      continue;
    }
    const args = getArgumentValues(field, selection, walk.variables);
    let base = children + 1 + resolver.extra + (args.sort != null ? 1 : 0) + (args.search != null ? 5 : 0);
    if (key === "Project.pipelines") base += (args.sha != null ? 2 : 0) + (args.ref != null ? 2 : 0);
    const first = typeof args.first === "number" ? args.first : MAX_PAGE_SIZE;
    const multiplier = resolver.connection ? 1 + 0.01 * Math.min(first, MAX_PAGE_SIZE) : 1;
    total += Math.floor(base * multiplier);
  }
  return total;
}

/** graphql-ruby's `max_depth`: the deepest chain of nested fields, fragments flattened. */
export function queryDepth(operation: OperationDefinitionNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>): number {
  const depth = (selectionSet: SelectionSetNode, seen: ReadonlySet<string>): number => {
    let deepest = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith("__")) continue;
        deepest = Math.max(deepest, 1 + (selection.selectionSet ? depth(selection.selectionSet, seen) : 0));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, depth(selection.selectionSet, seen));
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.has(fragment.name.value)) deepest = Math.max(deepest, depth(fragment.selectionSet, new Set([...seen, fragment.name.value])));
      }
    }
    return deepest;
  };
  return depth(operation.selectionSet, new Set());
}
