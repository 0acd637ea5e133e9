/**
 * `projects/42/jobs/7` → `/projects/:id/jobs/:job_id`, `projects/42/pipelines/9/jobs` →
 * `/projects/:id/pipelines/:pipeline_id/jobs`: a bounded label, never a raw URL.
 */
export function routeTemplate(endpoint: string): string {
  const segments = endpoint.split("?")[0]!.split("/").filter((s) => s !== "");
  return (
    "/" +
    segments
      .map((segment, index) => {
        if (index % 2 === 0) return segment;
        return index === 1 ? ":id" : `:${singular(segments[index - 1]!)}_id`;
      })
      .join("/")
  );
}

function singular(resource: string): string {
  return resource.endsWith("s") ? resource.slice(0, -1) : resource;
}
