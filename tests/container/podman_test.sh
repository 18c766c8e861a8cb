#!/usr/bin/env bash
# Builds the FROM-scratch image offline from the Containerfile around build/evchat-static,
# runs it, chats with it, runs its HEALTHCHECK, and stops it with SIGTERM.
# Needs podman (Debian's, with runc); skips with a message where it is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
name=container
fail() { echo "FAIL: $name: $*"; exit 1; }
command -v podman >/dev/null || { echo "SKIP: $name: podman is not installed (apt-get install podman)"; exit 0; }
[ -x build/evchat-static ] || fail "build/evchat-static missing (make static)"

image=localhost/evchat-test:$$
ctr=evchat-test-$$
podman_() { podman --runtime runc "$@"; }
cleanup() {
    podman_ rm -f "$ctr" >/dev/null 2>&1
    podman_ rmi -f "$image" >/dev/null 2>&1
}
trap cleanup EXIT

podman_ build --format docker --target prebuilt -t "$image" -f Containerfile . >/tmp/$ctr.build 2>&1 ||
    fail "podman build: $(tail -5 /tmp/$ctr.build)"
rm -f /tmp/$ctr.build
size=$(podman_ image inspect --format '{{.Size}}' "$image")
echo "image size: $size bytes"

# A free port for the host network: the image listens on :8000 unless told otherwise.
port=$(build/evchat-static --help >/dev/null; for p in $(seq 20000 20100); do
    (: </dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; break; }; done)
hc=$(podman_ image inspect --format '{{json .Config.Healthcheck.Test}}' "$image")
[ "$hc" = '["CMD","/evchat","--healthcheck","127.0.0.1:8000"]' ] || fail "image HEALTHCHECK is $hc"
# Host networking (no container network here), so the port is moved by EVCHAT_LISTEN and
# the health check follows it. nofile/nproc must fit this machine's hard limits.
podman_ run -d --name "$ctr" --network=host --ulimit nofile=4096:4096 --ulimit nproc=1024:1024 \
    --health-cmd "[\"/evchat\",\"--healthcheck\",\"127.0.0.1:$port\"]" \
    -e EVCHAT_LISTEN="127.0.0.1:$port" "$image" >/dev/null 2>&1 || fail "podman run failed"

for _ in $(seq 50); do
    build/evchat-static --healthcheck "127.0.0.1:$port" >/dev/null 2>&1 && break
    sleep 0.1
done
user=$(podman_ inspect --format '{{.Config.User}}' "$ctr")
[ "$user" = "65534:65534" ] || fail "runs as '$user', not 65534:65534"

exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to the container"
read -r -t 5 you_a <&3 || fail "no greeting"
exec 4<>"/dev/tcp/127.0.0.1/$port"
read -r -t 5 you_b <&4 || fail "no greeting for B"
read -r -t 5 arrival <&3 || fail "A heard no arrival"
[ "$arrival" = "${you_b#You are } has arrived" ] || fail "A got '$arrival'"
echo "hello" >&3
read -r -t 5 heard <&4 || fail "B heard nothing"
[ "$heard" = "${you_a#You are }: hello" ] || fail "B got '$heard'"
exec 3>&- 4>&-

podman_ healthcheck run "$ctr" 2>/dev/null || fail "podman healthcheck run: unhealthy"

podman_ stop -t 10 "$ctr" >/dev/null 2>&1 || fail "podman stop failed"
code=$(podman_ inspect --format '{{.State.ExitCode}}' "$ctr")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM: $(podman_ logs "$ctr" 2>&1 | tail -3)"
echo "PASS: $name"
