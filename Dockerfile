# syntax=docker/dockerfile:1
# The edge-alarm dispatcher: one esbuild bundle (plain JavaScript + QuickJS .wasm) on
# node:24-alpine. Handlers are not in the image: they come from the handlers ConfigMap, so
# changing them never needs a rebuild.
#
# Both architectures of the fleet, in one multi-arch tag:
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/edge-alarm:0.1.0 --push .
# (docs/operations.md "Building the image"). The bundle has no native code, so it is built once,
# on the build machine's own architecture, and copied into each target's runtime image.

# For releases, pin the base by digest (--build-arg NODE_IMAGE=node:24-alpine@sha256:…), so that
# a new edge-alarm release changes only the /app layer on the edge nodes.
ARG NODE_IMAGE=node:24-alpine

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS bundle
WORKDIR /src
COPY package.json package-lock.json ./
# Runtime packages and esbuild only: no devDependencies (the pinned `node` devDependency would
# download a second Node binary).
RUN npm ci --omit=dev --no-audit --no-fund
COPY sdk/ sdk/
COPY dispatcher/ dispatcher/
COPY build/ build/
# Source maps stay out of the image (they would double the layer every edge node downloads);
# the same commit bundles to the same files, so they can be rebuilt to read a stack trace.
RUN node build/bundle-dispatcher.ts --out /out && rm /out/*.map

FROM ${NODE_IMAGE}
# The dispatcher needs only node: drop npm, npx and yarn (smaller image, fewer CVEs to track).
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production
WORKDIR /app
COPY --from=bundle /out/ /app/
# The base image's `node` user, by number so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# The same lean V8 flags as deploy/deployment.yaml (measured in test/bench/memory.bench.ts).
ENTRYPOINT ["node", "--max-old-space-size=32", "--max-semi-space-size=1", "--v8-pool-size=1", "--liftoff-only", "--optimize-for-size", "--no-opt", "--no-maglev", "/app/edge-alarm.js"]
CMD ["run"]
