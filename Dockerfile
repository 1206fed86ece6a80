# Multi-stage: build with the Swift toolchain, run on slim Debian with only the runtime
# libraries. The build stage installs scripts/apt-build.txt, the same list .ci/run uses.
FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY scripts/apt-build.txt scripts/
RUN apt-get update -qq \
 && xargs -a scripts/apt-build.txt apt-get install -y -qq --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
COPY Package.swift ./
COPY Sources Sources
RUN swift build -c release --static-swift-stdlib --product faultline \
 && cp "$(swift build -c release --show-bin-path)/faultline" /usr/local/bin/faultline

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libevent-2.1-7 libevent-openssl-2.1-7 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/faultline /usr/local/bin/faultline
COPY scenarios /scenarios
# The control API's port, as Toxiproxy's image: `docker run -p 8474:8474 IMAGE serve --api 0.0.0.0:8474 --token …`
# (inside a container the API must listen beyond loopback, so it needs a token, or --insecure-no-token).
EXPOSE 8474
ENTRYPOINT ["faultline"]
