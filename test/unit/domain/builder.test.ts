import { describe, expect, it } from "vitest";
import { DEFAULT_BUILDER_IMAGES, detectBuilder } from "../../../src/domain/builder.js";

describe("detectBuilder", () => {
  it.each([
    ["gcr.io/kaniko-project/executor:v1.23.2-debug", "kaniko"],
    ["gcr.io/kaniko-project/executor@sha256:7e1f3a5c", "kaniko"],
    ["gcr.io/kaniko-project/executor", "kaniko"],
    ["ghcr.io/osscontainertools/kaniko:v1.25.0-debug", "kaniko"],
    ["martizih/kaniko:v1.24.0-debug", "kaniko"],
    ["docker.io/martizih/kaniko:latest", "kaniko"],
    ["cgr.dev/chainguard/kaniko:latest", "kaniko"],
    ["moby/buildkit:v0.23.0-rootless", "buildkit"],
    ["docker.io/moby/buildkit:latest", "buildkit"],
    ["index.docker.io/moby/buildkit", "buildkit"],
    ["quay.io/buildah/stable:v1.40", "buildah"],
    ["quay.io/buildah/upstream", "buildah"],
  ])("%s is %s", (image, builder) => {
    expect(detectBuilder(image, DEFAULT_BUILDER_IMAGES)).toBe(builder);
  });

  it.each([
    "alpine:3.20",
    "docker:27-dind",
    "gcr.io/kaniko-project/warmer:latest",
    "moby/buildkit-proxy:1",
    "registry.example.com/gcr.io/kaniko-project/executor:debug",
    "quay.io/podman/stable",
    "",
  ])("%j is no builder", (image) => {
    expect(detectBuilder(image, DEFAULT_BUILDER_IMAGES)).toBeNull();
  });

  it("follows a configured list", () => {
    const builders = [{ builder: "kaniko", prefix: "registry.example.com/mirror/kaniko-project/executor" }];
    expect(detectBuilder("registry.example.com/mirror/kaniko-project/executor:debug", builders)).toBe("kaniko");
    expect(detectBuilder("gcr.io/kaniko-project/executor:debug", builders)).toBeNull();
  });
});
