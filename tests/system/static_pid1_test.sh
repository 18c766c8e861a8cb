#!/usr/bin/env bash
# The static binary alone in an empty root filesystem, as PID 1 of its own PID and
# network namespaces: it must chat over the namespace's loopback and exit 0 on SIGTERM.
# Usage: tests/system/static_pid1_test.sh build/evchat-static
set -uo pipefail
bin=$(readlink -f "${1:?usage: $0 path/to/evchat-static}")
name=static-pid1

fail() { echo "FAIL: $name: $*"; exit 1; }
root=$(mktemp -d)
cleanup() {
    [ -n "${pid1:-}" ] && kill -KILL "$pid1" 2>/dev/null
    rm -rf "$root" "$root.log"
}
trap cleanup EXIT

if ! unshare --net --pid --fork true 2>/dev/null; then
    echo "SKIP: $name: network or PID namespaces are not permitted here"
    exit 0
fi

# Nothing but the binary and its config: no libc, no /etc, no /dev, no /proc.
mkdir -p "$root/etc/evchat"
cp "$bin" "$root/evchat"
printf '[server]\nlisten = ["localhost:8000"]\nshutdown_grace = 2.0\n' >"$root/etc/evchat/evchat.toml"

# unshare forks the namespaces' first process: a shell that brings up their loopback and
# becomes evchat (exec keeps its PID, 1). No mount namespace: chroot needs none, and
# making mounts private fails where / is no mount point (a chroot).
unshare --net --pid --fork /bin/sh -c 'ip link set lo up && exec chroot "$1" /evchat --config /etc/evchat/evchat.toml' \
    sh "$root" 2>"$root.log" &
launcher=$!
for _ in $(seq 50); do
    pid1=$(pgrep -P "$launcher" | head -1)
    [ -n "$pid1" ] && grep -q "listening on" "$root.log" 2>/dev/null && break
    sleep 0.1 # polling for the start, within a deadline
done
[ -n "${pid1:-}" ] && grep -q "listening on" "$root.log" || fail "evchat did not start: $(cat "$root.log")"
in_ns() { nsenter --net="/proc/$pid1/ns/net" "$@"; }
nspid=$(awk '/^NSpid/ {print $NF}' "/proc/$pid1/status")
[ "$nspid" = 1 ] || fail "evchat is PID $nspid in its namespace, not 1"

in_ns "$bin" --healthcheck 127.0.0.1:8000 >/dev/null || fail "healthcheck inside the namespace failed"

# Two clients: A says hello, B must hear it.
transcript=$(in_ns /bin/bash -c '
    exec 3<>/dev/tcp/127.0.0.1/8000 || exit 1
    read -r -t 5 a <&3 || exit 1
    exec 4<>/dev/tcp/127.0.0.1/8000 || exit 1
    read -r -t 5 b <&4 || exit 1
    read -r -t 5 arrival <&3 || exit 1
    echo "hello from a" >&3
    read -r -t 5 heard <&4 || exit 1
    echo "$a|$b|$arrival|$heard"
') || fail "chat inside the namespace failed: $transcript"
IFS='|' read -r you_a you_b arrival heard <<<"$transcript"
addr_a=${you_a#You are }
addr_b=${you_b#You are }
[ "$arrival" = "$addr_b has arrived" ] || fail "A got '$arrival'"
[ "$heard" = "$addr_a: hello from a" ] || fail "B got '$heard'"

kill -TERM "$pid1"
wait "$launcher"
status=$?
[ "$status" = 0 ] || fail "exit status $status after SIGTERM: $(cat "$root.log")"
grep -q "exiting" "$root.log" || fail "no clean exit in the log: $(cat "$root.log")"
pid1=""
echo "PASS: $name"
