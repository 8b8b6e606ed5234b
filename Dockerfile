# The imgclass binary on a slim base, for the recipes in deploy/ (a Kubernetes Indexed Job, a
# Slurm array through a container runtime):
#   docker build -t imgclass .
#   docker run --rm -v "$PWD:/w" -w /w imgclass predict model.imgclass photos --csv
# Stage 1 compiles the release binary (about 10 minutes on 2 cores); stage 2 is Debian slim with
# the binary, the shard scripts and Python-free: the binary needs only glibc.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p imgclass-cli \
 && strip target/release/imgclass

FROM debian:bookworm-slim
COPY --from=build /src/target/release/imgclass /usr/local/bin/imgclass
COPY deploy/predict-shard.sh /usr/local/bin/predict-shard
COPY deploy/merge-shards.sh /usr/local/bin/merge-shards
RUN useradd --create-home --uid 1000 imgclass
USER imgclass
ENTRYPOINT ["imgclass"]
