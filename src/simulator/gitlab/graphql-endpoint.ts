import {
  buildSchema,
  execute,
  getOperationAST,
  getVariableValues,
  isInterfaceType,
  isObjectType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from "graphql";
import { maxComplexity, maxDepth, MAX_QUERY_SIZE, queryComplexity, queryDepth } from "./graphql-limits.js";
import { RESOLVERS, type GraphqlContext, type Viewer } from "./graphql-resolvers.js";
import { GITLAB_SDL } from "./graphql-schema.js";
import { json, type Reply } from "./routes.js";
import type { GitLabWorld } from "./world.js";

/** `enabled`, switched off (404), or refused to the token (403 "API not accessible for user"). */
export type GraphqlMode = "enabled" | "disabled" | "forbidden";

export interface GraphqlCredentials {
  readonly token: string;
  readonly adminToken?: string;
}

/** The schema with the simulator's resolvers attached; built once per process. */
let builtSchema: GraphQLSchema | undefined;
export function gitlabSchema(): GraphQLSchema {
  if (builtSchema) return builtSchema;
  const schema = buildSchema(GITLAB_SDL);
  for (const [typeName, fields] of Object.entries(RESOLVERS)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) throw new Error(`resolvers for unknown type ${typeName}`);
    const defs = type.getFields();
    for (const [name, resolve] of Object.entries(fields)) {
      const def = defs[name];
      if (!def) throw new Error(`resolver for unknown field ${typeName}.${name}`);
      // Each resolver was written for its own type's source objects.
      def.resolve = resolve as GraphQLFieldResolver<unknown, GraphqlContext>;
    }
  }
  // Each interface has one implementation here, as GitLab's `resolve_type` answers.
  const implementations: Record<string, string> = { CiJobInterface: "CiJob", ProjectInterface: "Project", PipelineInterface: "Pipeline" };
  for (const [name, implementation] of Object.entries(implementations)) {
    const type = schema.getType(name);
    if (!isInterfaceType(type)) throw new Error(`${name} is not an interface`);
    type.resolveType = () => implementation;
  }
  builtSchema = schema;
  return schema;
}

/** The token GitLab's `GraphqlController` authenticates: `PRIVATE-TOKEN` or `Authorization: Bearer`. */
export function graphqlToken(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const privateToken = single(headers["private-token"]);
  if (privateToken) return privateToken;
  const bearer = /^Bearer\s+(.+)$/i.exec(single(headers.authorization) ?? "");
  return bearer?.[1];
}

const errors = (status: number, message: string): Reply => json(status, { errors: [{ message }] });

/**
 * `POST /api/graphql` as `GraphqlController#execute` answers it: a wrong token is a 401
 * "Invalid token", no token an anonymous request, query text over 10,000 characters a 422
 * "Query too large"; depth and complexity over the viewer's limit are GraphQL errors (HTTP 200)
 * with graphql-ruby's wording.
 */
export function answerGraphql(world: GitLabWorld, mode: GraphqlMode, credentials: GraphqlCredentials, token: string | undefined, body: string): Reply {
  if (mode === "disabled") return json(404, { message: "404 Not Found" });
  let viewer: Viewer = "anonymous";
  if (token !== undefined) {
    if (credentials.adminToken !== undefined && token === credentials.adminToken) viewer = "admin";
    else if (token === credentials.token) viewer = "user";
    else return errors(401, "Invalid token");
  }
  if (mode === "forbidden") return errors(403, "API not accessible for user");

  let request: { query?: unknown; variables?: unknown; operationName?: unknown };
  try {
    request = JSON.parse(body) as typeof request;
  } catch {
    return errors(400, "Invalid JSON in request body");
  }
  const query = typeof request.query === "string" ? request.query : "";
  if (query.length > MAX_QUERY_SIZE) return errors(422, "Query too large");
  const variables = typeof request.variables === "object" && request.variables !== null ? (request.variables as Record<string, unknown>) : {};
  const operationName = typeof request.operationName === "string" ? request.operationName : undefined;
  return json(200, run(world, viewer, query, variables, operationName));
}

function run(world: GitLabWorld, viewer: Viewer, query: string, rawVariables: Record<string, unknown>, operationName: string | undefined): unknown {
  const schema = gitlabSchema();
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (error) {
    return { errors: [error instanceof Error ? { message: error.message } : { message: String(error) }] };
  }
  const invalid = validate(schema, document);
  if (invalid.length > 0) return { errors: invalid.map((e) => e.toJSON()) };
  const operation = getOperationAST(document, operationName);
  if (!operation) return { errors: [{ message: "An operation name is required" }] };
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);

  const depth = queryDepth(operation, fragments);
  if (depth > maxDepth(viewer)) return { errors: [{ message: `Query has depth of ${depth}, which exceeds max depth of ${maxDepth(viewer)}` }] };
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables);
  if (coerced.errors) return { errors: coerced.errors.map((e) => e.toJSON()) };
  const score = queryComplexity(schema, operation, fragments, coerced.coerced);
  const limit = maxComplexity(viewer);
  if (score > limit) return { errors: [{ message: `Query has complexity of ${score}, which exceeds max complexity of ${limit}` }] };

  const contextValue: GraphqlContext = { world, viewer, now: world.now(), complexity: { score, limit }, projectJobsCalls: 0 };
  const result = execute({ schema, document, variableValues: rawVariables, operationName, contextValue });
  if ("then" in result) throw new Error("the simulator's resolvers are synchronous");
  return { ...(result.errors ? { errors: result.errors.map((e) => e.toJSON()) } : {}), data: result.data ?? null };
}
