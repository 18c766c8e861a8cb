#!/usr/bin/env bash
# Builds the FROM-scratch image offline from the Containerfile around build/evchat-static
# and runs it three times under podman; each time it chats with it, checks which flush path
# evchat logged, runs its HEALTHCHECK and stops it with SIGTERM:
#  1. under podman's default seccomp profile, printing the path evchat took. On Debian 12
#     (podman 4.3, containers-common 0.50.1, /usr/share/containers/seccomp.json) that
#     profile does not list the io_uring calls, so io_uring_setup fails with its default
#     ENOSYS and evchat says "io_uring unavailable"; a profile that allows them (or
#     --security-opt seccomp=unconfined) gives "flush: io_uring".
#  2. under seccomp_no_io_uring.json beside this script, which allows every call but
#     io_uring_setup, io_uring_enter and io_uring_register, refused with EPERM (what
#     kernel.io_uring_disabled=2 answers): evchat must say "io_uring unavailable" and chat
#     as before, through writev.
#  3. with no seccomp profile (seccomp=unconfined): where the host allows io_uring, evchat
#     must say "flush: io_uring" and chat through the ring.
# Needs podman and runc: `scripts/deps container` installs them (make container-test runs
# it first). Where either is missing it skips, except in CI (CI set), where it fails.
#
# The runtime is runc, not the crun that Debian's podman prefers: crun 1.8 refuses a hybrid
# cgroup layout (v1 controllers plus /sys/fs/cgroup/unified) whose cgroup2 side holds any
# controller, hugetlb on this machine: "crun: cgroups in hybrid mode not supported, drop all
# controllers from cgroupv2", even with --cgroups=disabled. OCI_RUNTIME=crun takes it back
# where the layout is pure v1 or v2. cgroupfs and the file events backend need neither
# systemd nor journald. (Without systemd, podman logs "unable to get systemd connection" for
# the health check's timer; harmless: `podman healthcheck run` runs it by hand here.)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
name=container
runtime=${OCI_RUNTIME:-runc}
fail() { echo "FAIL: $name: $*"; exit 1; }
missing() {  # missing WHAT: skips where this machine lacks it, fails in CI (deps installed it)
    [ -z "${CI:-}" ] || fail "$1 is not installed (scripts/deps container installs it)"
    echo "SKIP: $name: $1 is not installed (scripts/deps container, as root)"
    exit 0
}
command -v podman >/dev/null || missing podman
PATH=$PATH:/usr/sbin:/sbin command -v "$runtime" >/dev/null || missing "$runtime"
[ -x build/evchat-static ] || fail "build/evchat-static missing (make static)"
profile=$PWD/tests/container/seccomp_no_io_uring.json
[ -r "$profile" ] || fail "$profile missing"

image=localhost/evchat-test:$$
tmp=$(mktemp -d)
ctrs=()
podman_() { podman --runtime "$runtime" --cgroup-manager=cgroupfs --events-backend=file "$@"; }
# podman's own output, less its systemd noise, for a failure message.
said() { grep -v 'systemd connection' "$1" | tail -3; }
cleanup() {
    for c in "${ctrs[@]}"; do podman_ rm -f "$c" >/dev/null 2>&1; done
    podman_ rmi -f "$image" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

podman_ build --format docker --target prebuilt -t "$image" -f Containerfile . >"$tmp/build" 2>&1 ||
    fail "podman build: $(said "$tmp/build")"
size=$(podman_ image inspect --format '{{.Size}}' "$image")
echo "image size: $size bytes"
hc=$(podman_ image inspect --format '{{json .Config.Healthcheck.Test}}' "$image")
[ "$hc" = '["CMD","/evchat","--healthcheck","127.0.0.1:8000"]' ] || fail "image HEALTHCHECK is $hc"

# A free port for the host network: the image listens on :8000 unless told otherwise.
free_port() {
    for p in $(seq 20000 20100); do
        (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# serve LABEL [PODMAN RUN FLAGS...]: runs the image as container $ctr on a free $port, and
# waits (5 s at most) until its health check answers.
serve() {
    local label=$1
    shift
    ctr=evchat-test-$$-$label
    port=$(free_port)
    [ -n "$port" ] || fail "$label: no free port in 20000-20100"
    ctrs+=("$ctr")
    # Host networking (no container network here), so the port is moved by EVCHAT_LISTEN and
    # the health check follows it. nofile/nproc must fit this machine's hard limits (podman's
    # defaults exceed them, and the runtime's setrlimit fails).
    podman_ run -d --name "$ctr" --network=host --ulimit nofile=4096:4096 --ulimit nproc=1024:1024 \
        --health-cmd "[\"/evchat\",\"--healthcheck\",\"127.0.0.1:$port\"]" \
        -e EVCHAT_LISTEN="127.0.0.1:$port" "$@" "$image" >"$tmp/run" 2>&1 ||
        fail "$label: podman run: $(said "$tmp/run")"
    for _ in $(seq 50); do
        build/evchat-static --healthcheck "127.0.0.1:$port" >/dev/null 2>&1 && return 0
        [ "$(podman_ inspect --format '{{.State.Running}}' "$ctr" 2>/dev/null)" = true ] || break
        sleep 0.1
    done
    fail "$label: not serving on 127.0.0.1:$port: $(podman_ logs "$ctr" 2>&1 | tail -3)"
}

# chat LABEL: two clients; A hears B arrive, B hears A's line.
chat() {
    local label=$1 you_a you_b arrival heard
    exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "$label: cannot connect to the container"
    read -r -t 5 you_a <&3 || fail "$label: no greeting"
    exec 4<>"/dev/tcp/127.0.0.1/$port" || fail "$label: cannot connect a second client"
    read -r -t 5 you_b <&4 || fail "$label: no greeting for B"
    read -r -t 5 arrival <&3 || fail "$label: A heard no arrival"
    [ "$arrival" = "${you_b#You are } has arrived" ] || fail "$label: A got '$arrival'"
    echo "hello" >&3
    read -r -t 5 heard <&4 || fail "$label: B heard nothing"
    [ "$heard" = "${you_a#You are }: hello" ] || fail "$label: B got '$heard'"
    exec 3>&- 4>&-
}

# flush_path LABEL: evchat logs at start-up either "flush: io_uring" or "io_uring unavailable"
# and the reason; podman logs is polled for it, 5 s at most. Sets $path (io_uring or writev)
# and $said_line; fails if neither or both were logged.
flush_path() {
    local label=$1 logs ring off
    for _ in $(seq 50); do
        logs=$(podman_ logs "$ctr" 2>&1)
        ring=$(grep -m1 -F 'flush: io_uring' <<<"$logs")
        off=$(grep -m1 -F 'io_uring unavailable' <<<"$logs")
        [ -n "$ring$off" ] && break
        sleep 0.1
    done
    [ -n "$ring" ] && [ -n "$off" ] && fail "$label: logged both '$ring' and '$off'"
    if [ -n "$ring" ]; then path=io_uring said_line=$ring
    elif [ -n "$off" ]; then path=writev said_line=$off
    else fail "$label: logged neither 'flush: io_uring' nor 'io_uring unavailable' in 5 s: $(tail -3 <<<"$logs")"
    fi
}

# finish LABEL: the user, the HEALTHCHECK by podman, and exit status 0 on SIGTERM.
finish() {
    local label=$1 user code
    user=$(podman_ inspect --format '{{.Config.User}}' "$ctr")
    [ "$user" = "65534:65534" ] || fail "$label: runs as '$user', not 65534:65534"
    podman_ healthcheck run "$ctr" >/dev/null 2>&1 || fail "$label: podman healthcheck run: unhealthy"
    podman_ stop -t 10 "$ctr" >/dev/null 2>&1 || fail "$label: podman stop failed"
    code=$(podman_ inspect --format '{{.State.ExitCode}}' "$ctr")
    [ "$code" = 0 ] || fail "$label: exit code $code after SIGTERM: $(podman_ logs "$ctr" 2>&1 | tail -3)"
}

serve default
chat default
flush_path default
echo "flush path under podman's default seccomp profile: $path: $said_line"
finish default

serve no-io_uring --security-opt "seccomp=$profile"
chat no-io_uring
flush_path no-io_uring
[ "$path" = writev ] || fail "no-io_uring: io_uring refused by seccomp, yet evchat logged '$said_line'"
echo "flush path with io_uring refused (EPERM) by seccomp: $path: $said_line"
finish no-io_uring

# And with no seccomp profile at all, the static binary's ring works in the image wherever
# the host kernel lets this machine use io_uring.
serve unconfined --security-opt seccomp=unconfined
chat unconfined
flush_path unconfined
if [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ]; then
    [ "$path" = io_uring ] || fail "unconfined: the host allows io_uring, yet evchat logged '$said_line'"
fi
echo "flush path with no seccomp profile: $path: $said_line"
finish unconfined

echo "PASS: $name"
