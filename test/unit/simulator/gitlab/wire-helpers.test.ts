import { describe, expect, it } from "vitest";
import { EventQueue } from "../../../../src/simulator/gitlab/event-queue.js";
import { GitLabFaults } from "../../../../src/simulator/gitlab/faults.js";
import { cursorKeysetPage, decodeCursor, encodeCursor, idKeysetPage, offsetPage, perPageOf } from "../../../../src/simulator/gitlab/pagination.js";
import { FixedWindowRateLimiter } from "../../../../src/simulator/gitlab/rate-limit.js";
import { RequestLog, type RequestRecord } from "../../../../src/simulator/gitlab/request-log.js";

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: n - i }));
const url = (query: string) => new URL(`https://gitlab.example.com/api/v4/projects/8/jobs?${query}`);

describe("offset pagination", () => {
  it("writes the documented headers for a middle page", () => {
    const page = offsetPage(url("per_page=3&page=2"), items(8));
    expect(page.items.map((i) => i.id)).toEqual([5, 4, 3]);
    expect(page.headers).toEqual({
      link: [
        '<https://gitlab.example.com/api/v4/projects/8/jobs?page=1&per_page=3>; rel="prev"',
        '<https://gitlab.example.com/api/v4/projects/8/jobs?page=3&per_page=3>; rel="next"',
        '<https://gitlab.example.com/api/v4/projects/8/jobs?page=1&per_page=3>; rel="first"',
        '<https://gitlab.example.com/api/v4/projects/8/jobs?page=3&per_page=3>; rel="last"',
      ].join(", "),
      "x-next-page": "3",
      "x-page": "2",
      "x-per-page": "3",
      "x-prev-page": "1",
      "x-total": "8",
      "x-total-pages": "3",
    });
  });

  it("keeps other parameters, repeated ones included, in sorted order", () => {
    const page = offsetPage(url("scope[]=pending&scope[]=running&per_page=2"), items(5));
    const next = /<([^>]+)>; rel="next"/.exec(page.headers.link!)![1]!;
    expect(next).toBe("https://gitlab.example.com/api/v4/projects/8/jobs?page=2&per_page=2&scope%5B%5D=pending&scope%5B%5D=running");
  });

  it("ends with an empty next page, and answers past the end with nothing", () => {
    const last = offsetPage(url("per_page=3&page=3"), items(8));
    expect(last.items).toHaveLength(2);
    expect(last.headers["x-next-page"]).toBe("");
    expect(last.headers.link).not.toContain('rel="next"');
    const beyond = offsetPage(url("per_page=3&page=9"), items(8));
    expect(beyond.items).toEqual([]);
    const empty = offsetPage(url(""), []);
    expect(empty.headers["x-total"]).toBe("0");
    expect(empty.headers["x-total-pages"]).toBe("1");
  });

  it("stops counting above 10,000 records", () => {
    const page = offsetPage(url("per_page=100"), items(10_001));
    expect(page.headers["x-total"]).toBeUndefined();
    expect(page.headers["x-total-pages"]).toBeUndefined();
    expect(page.headers.link).not.toContain('rel="last"');
    expect(page.headers["x-next-page"]).toBe("2");
    expect(offsetPage(url("per_page=100"), items(10_000)).headers["x-total"]).toBe("10000");
  });

  it("defaults per_page to 20 and caps it at 100", () => {
    expect(perPageOf(url(""))).toBe(20);
    expect(perPageOf(url("per_page=500"))).toBe(100);
    expect(perPageOf(url("per_page=0"))).toBe(20);
    expect(perPageOf(url("per_page=abc"))).toBe(20);
  });

  it("loops back to the same page when asked to misbehave", () => {
    const page = offsetPage(url("per_page=3&page=2"), items(8), true);
    expect(page.headers["x-next-page"]).toBe("2");
    expect(page.headers.link).toContain("page=2&per_page=3>; rel=\"next\"");
  });
});

describe("keyset pagination", () => {
  it("encodes GitLab's cursor and reads it back", () => {
    const cursor = encodeCursor(1234);
    expect(JSON.parse(Buffer.from(cursor, "base64url").toString())).toEqual({ id: "1234", _kd: "n" });
    expect(decodeCursor(cursor)).toBe(1234);
    expect(decodeCursor("not a cursor")).toBe(Infinity);
  });

  it("links to the next cursor while more remain, and not on the last page", () => {
    const all = items(5);
    const first = cursorKeysetPage(url("pagination=keyset&per_page=2"), all);
    expect(first.items.map((i) => i.id)).toEqual([5, 4]);
    const next = new URL(/<([^>]+)>; rel="next"/.exec(first.headers.link!)![1]!);
    expect(decodeCursor(next.searchParams.get("cursor")!)).toBe(4);
    expect(next.searchParams.get("pagination")).toBe("keyset");
    const second = cursorKeysetPage(next, all);
    expect(second.items.map((i) => i.id)).toEqual([3, 2]);
    const third = cursorKeysetPage(new URL(/<([^>]+)>/.exec(second.headers.link!)![1]!), all);
    expect(third.items.map((i) => i.id)).toEqual([1]);
    expect(third.headers.link).toBeUndefined();
    expect(Object.keys(third.headers)).toEqual([]);
  });

  it("follows id_after like GitLab's keyset pager: a full page links on, the empty one ends", () => {
    const asc = items(4).reverse();
    const first = idKeysetPage(url("pagination=keyset&order_by=id&sort=asc&per_page=2"), asc, "asc");
    expect(first.items.map((i) => i.id)).toEqual([1, 2]);
    expect(first.headers.link).toContain("id_after=2");
    const second = idKeysetPage(new URL(/<([^>]+)>/.exec(first.headers.link!)![1]!), asc, "asc");
    expect(second.items.map((i) => i.id)).toEqual([3, 4]);
    const end = idKeysetPage(new URL(/<([^>]+)>/.exec(second.headers.link!)![1]!), asc, "asc");
    expect(end.items).toEqual([]);
    expect(end.headers.link).toBeUndefined();
    const desc = idKeysetPage(url("per_page=3&id_before=4"), items(4), "desc");
    expect(desc.items.map((i) => i.id)).toEqual([3, 2, 1]);
  });
});

describe("FixedWindowRateLimiter", () => {
  it("counts per client in epoch-aligned one-minute windows", () => {
    let now = Date.UTC(2021, 0, 5, 10, 59, 30);
    const limiter = new FixedWindowRateLimiter(2, () => now);
    expect(limiter.hit("a")).toMatchObject({ limit: 2, observed: 1, remaining: 1, exceeded: false, retryAfter: 30, resetAt: Date.UTC(2021, 0, 5, 11, 0, 0) / 1000 });
    expect(limiter.hit("b").observed).toBe(1);
    limiter.hit("a");
    expect(limiter.hit("a")).toMatchObject({ observed: 3, remaining: 0, exceeded: true });
    now += 30_000;
    expect(limiter.hit("a")).toMatchObject({ observed: 1, exceeded: false, retryAfter: 60 });
  });
});

describe("EventQueue", () => {
  it("pops by time, ties in insertion order", () => {
    const queue = new EventQueue<string>();
    for (const [at, v] of [[5, "a"], [1, "b"], [5, "c"], [3, "d"], [1, "e"]] as const) queue.push(at, v);
    const out: string[] = [];
    for (let e = queue.pop(); e; e = queue.pop()) out.push(e.value);
    expect(out).toEqual(["b", "e", "d", "a", "c"]);
    expect(queue.peekTime()).toBeUndefined();
  });
});

describe("GitLabFaults", () => {
  it("serves armed faults in order, counted and scoped by path", () => {
    const faults = new GitLabFaults();
    faults.status(500, { count: 2, path: /\/jobs$/g });
    faults.resetConnection({ count: 1 });
    expect(faults.take("/api/v4/projects/1", false)?.kind).toBe("reset");
    expect(faults.take("/api/v4/projects/1", false)).toBeUndefined();
    expect(faults.take("/api/v4/projects/1/jobs", true)).toEqual({ kind: "status", status: 500 });
    expect(faults.take("/api/v4/projects/1/jobs", true)).toEqual({ kind: "status", status: 500 });
    expect(faults.take("/api/v4/projects/1/jobs", true)).toBeUndefined();
    expect(faults.served).toBe(3);
  });

  it("keeps a pagination loop for list routes, and clears everything at once", () => {
    const faults = new GitLabFaults();
    let released = 0;
    faults.onClear(() => released++);
    faults.paginationLoop();
    faults.hang();
    expect(faults.take("/api/v4/projects/1", false)?.kind).toBe("hang");
    expect(faults.take("/api/v4/projects/1/jobs", true)?.kind).toBe("pagination-loop");
    expect(faults.active()).toHaveLength(2);
    faults.clear();
    expect(faults.active()).toEqual([]);
    expect(released).toBe(1);
    expect(() => faults.hang({ count: 0 })).toThrow(/positive count/);
  });
});

describe("RequestLog", () => {
  const record = (route: string, projectId: number | undefined, status = 200): RequestRecord => ({
    at: 0,
    method: "GET",
    path: "/",
    query: new URLSearchParams(),
    route,
    projectId,
    status,
    fault: undefined,
  });

  it("counts by route, project and status, and stays bounded", () => {
    const log = new RequestLog(10);
    for (let i = 0; i < 8; i++) log.add(record("/projects/:id/jobs", i % 2 ? 1 : 2, i === 0 ? 429 : 200));
    log.add(record("/groups/:id/projects", undefined));
    expect(log.count()).toBe(9);
    expect(log.count({ route: "/projects/:id/jobs", projectId: 1 })).toBe(4);
    expect(log.count({ status: 429 })).toBe(1);
    expect(log.count((r) => r.route.startsWith("/groups"))).toBe(1);
    expect(log.countByProject()).toEqual(new Map([[2, 4], [1, 4]]));
    for (let i = 0; i < 5; i++) log.add(record("/projects/:id", 3));
    expect(log.log.length).toBeLessThanOrEqual(10);
    expect(log.log.at(-1)!.projectId).toBe(3);
    log.clear();
    expect(log.count()).toBe(0);
  });
});
