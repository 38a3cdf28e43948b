#!/usr/bin/env bash
# The container as Docker shapes it inside the guest (issue 13): the main process is
# PID 1 of its own PID, mount, UTS and IPC namespaces (an unhandled SIGTERM is ignored,
# `stop` kills it after the timeout), execs join them, /dev/shm is 64 MiB or ShmSize,
# /dev/pts is a private devpts with /dev/ptmx -> pts/ptmx, `--init` runs docker-init as
# PID 1 (forwards signals, reaps zombies), `--pids-limit` bounds forks through the
# container's cgroup, and `top` lists the container's processes without `ps` in the
# image (docker CLI, python3-docker, default and `aux` ps_args). Three VMs.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
need_docker_cli
daemon_fixtures
daemon_start || need "the daemon did not start"
PY=/usr/bin/python3
running() { [ "$(state "$1" .State.Running)" = true ]; }
exited() { [ "$(state "$1" .State.Status)" = exited ]; }

# ---- 1. the main process is PID 1 of the container's namespaces; no ps in the image ----
check "docker run -d --hostname myhost --shm-size 128m (sh -c as PID 1)" \
    docker run -d --name ns --hostname myhost --shm-size 128m busybox \
    sh -c 'rm -f /bin/ps /usr/bin/ps; sleep 1000; true'
wait_for 60 running ns
wait_for 30 eval '! docker exec ns test -e /bin/ps'
dk exec ns ps
check_eq "the image has no ps any more (exec ps: 127)" 127 "$rc"
dk exec ns sh -c 'tr "\0" " " </proc/1/cmdline'
check_eq "exec: /proc/1/cmdline is the main process" "sh -c rm -f /bin/ps /usr/bin/ps; sleep 1000; true " "$out"
dk exec ns sh -c 'ls -d /proc/[0-9]* | wc -l'
[ "$rc" = 0 ] && [ "$out" -ge 3 ] && [ "$out" -le 5 ] && ok "exec sees only the container's processes ($out pids)" ||
    not_ok "exec's /proc lists $out processes (rc $rc)"
dk exec ns sh -c 'cat /proc/1/stat | cut -d" " -f1,2; test -e /proc/1/ns/pid && cat /proc/self/cgroup'
check_eq "pid 1 is sh; execs are in the container's cgroup" "$(printf '1 (sh)\n0::/container')" "$out"
dk exec ns sh -c 'hostname; cat /proc/sys/kernel/hostname'
check_eq "the hostname is the container's (UTS namespace)" "$(printf 'myhost\nmyhost')" "$out"
dk exec ns sh -c 'df -k /dev/shm | tail -1 | awk "{print \$2}"'
check_eq "/dev/shm honours ShmSize (128m)" 131072 "$out"
dk exec ns sh -c 'readlink /dev/ptmx; grep " /dev/pts " /proc/mounts | cut -d" " -f3; test -c /dev/pts/ptmx && echo chr'
check_eq "/dev/pts: devpts, /dev/ptmx -> pts/ptmx" "$(printf 'pts/ptmx\ndevpts\nchr')" "$out"
out=$(timeout 60 docker exec -t ns tty 2>&1 | tr -d '\r')
[[ "$out" =~ ^/dev/pts/[0-9]+$ ]] && ok "exec -t gets a /dev/pts terminal ($out)" || not_ok "exec -t tty: $out"

# ---- 2. top without ps ----
dk top ns
head=$(head -1 <<<"$out" | tr -s ' ')
check_eq "docker top: ps -ef's columns" "UID PID PPID C STIME TTY TIME CMD" "$head"
check_contains "docker top lists the main process" "$out" "sh -c rm -f /bin/ps /usr/bin/ps; sleep 1000; true"
check_contains "  and its child" "$out" "sleep 1000"
[[ "$out" != *"/init"* && "$out" != *kthreadd* ]] && ok "  and nothing of the VM (no /init, no kernel threads)" ||
    not_ok "docker top shows the VM: $out"
check_eq "  two processes" 3 "$(wc -l <<<"$out")"
dk top ns aux
check_eq "docker top ns aux: ps aux's columns" "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND" \
    "$(head -1 <<<"$out" | tr -s ' ')"
check_contains "  rows with the user" "$(sed -n 2p <<<"$out")" "root"
res=$($PY - "$DOCKER_HOST" <<'PY' 2>&1
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1]).containers.get("ns")
t = c.top()
a = c.top(ps_args="aux")
print(" ".join(t["Titles"]), len(t["Processes"]), t["Processes"][0][-1])
print(" ".join(a["Titles"]), len(a["Processes"]))
PY
)
check_eq "python3-docker container.top() and top(ps_args='aux')" \
    "$(printf 'UID PID PPID C STIME TTY TIME CMD 2 sh -c rm -f /bin/ps /usr/bin/ps; sleep 1000; true\nUSER PID %%CPU %%MEM VSZ RSS TTY STAT START TIME COMMAND 2')" "$res"
body=$(api GET '/containers/ns/top?ps_args=-o%20pid')
check_eq "unknown ps_args: 500 naming them" "500 true" "$(code) $(jq '.message | contains("ps_args `-o pid`")' <<<"$body")"
ctrcli() { CONTAINER_HOST=unix://$SOCK timeout 60 "$BIN/container" "$@"; }
out=$(ctrcli top ns aux 2>&1)
check_eq "container top ns aux: the same table" "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND" \
    "$(head -1 <<<"$out" | tr -s ' ')"
check_contains "  with the main process" "$out" "sh -c rm -f /bin/ps /usr/bin/ps; sleep 1000; true"
dk exec -d ns sleep 999
wait_for 20 eval 'docker top ns | grep -q "sleep 999"'
check_eq "top lists exec'd processes too" 4 "$(docker top ns | wc -l)"

# ---- 3. PID 1's signal semantics: SIGTERM without a handler is ignored; stop kills ----
dk kill -s TERM ns
check_eq "docker kill -s TERM: delivered" 0 "$rc"
sleep 3
check_eq "  sh as PID 1 ignores it: still running (as under Docker)" true "$(state ns .State.Running)"
start=$(date +%s)
dk stop -t 2 ns
check_eq "docker stop -t 2: done" 0 "$rc"
check_eq "  killed after the timeout: 137" 137 "$(state ns .State.ExitCode)"
[ $(($(date +%s) - start)) -ge 2 ] && ok "  after the 2 s timeout" || not_ok "stop returned before the timeout"

# ---- 4. --init: docker-init as PID 1, zombies reaped, signals forwarded ----
check "docker run -d --init" docker run -d --init --name in busybox sh -c 'trap "exit 7" TERM; sleep 1000 & wait'
wait_for 60 running in
dk exec in sh -c 'tr "\0" " " </proc/1/cmdline'
check_eq "PID 1 is docker-init" '/sbin/docker-init -- sh -c trap "exit 7" TERM; sleep 1000 & wait ' "$out"
check_eq "inspect: HostConfig.Init" true "$(state in .HostConfig.Init)"
# an orphan: its parent exits at once; it is re-parented to PID 1 and exits in 1 s
dk exec in sh -c '(sleep 1 &); true'
sleep 4
zombies() { docker exec in sh -c 'cat /proc/[0-9]*/stat 2>/dev/null' | awk '$3 == "Z"' | wc -l; }
check_eq "the orphan is reaped by docker-init (no zombie)" 0 "$(zombies)"
dk exec in sh -c 'cat /proc/[0-9]*/stat 2>/dev/null | awk "\$4 == 1 {print \$2}"'
check_contains "the command is docker-init's child" "$out" "(sh)"
dk kill -s TERM in
wait_for 30 exited in
check_eq "SIGTERM forwarded to the command: its trap's exit 7" 7 "$(state in .State.ExitCode)"

# ---- 5. --pids-limit: the container's cgroup ----
check "docker run -d --pids-limit 12" docker run -d --pids-limit 12 --name pl busybox sleep 1000
wait_for 60 running pl
check_eq "inspect: HostConfig.PidsLimit" 12 "$(state pl .HostConfig.PidsLimit)"
dk exec pl sh -c 'cat /sys/fs/cgroup/container/pids.max; cat /proc/1/cgroup'
check_eq "pids.max of the container's cgroup; the main process in it" "$(printf '12\n0::/container')" "$out"
dk exec pl sh -c 'df -k /dev/shm | tail -1 | awk "{print \$2}"'
check_eq "/dev/shm: Docker's 64 MiB by default" 65536 "$out"
dk exec pl sh -c 'n=0; while [ $n -lt 30 ]; do sleep 60 & n=$((n + 1)); done; echo all forked'
[ "$rc" != 0 ] && [[ "$out" == *"fork"* && "$out" != *"all forked"* ]] &&
    ok "a fork loop fails past the limit ($(tail -1 <<<"$out"))" || not_ok "30 forks under pids-limit 12: rc $rc: $out"
dk exec pl cat /sys/fs/cgroup/container/pids.current
[ "$rc" = 0 ] && [ "$out" -le 12 ] && [ "$out" -ge 10 ] && ok "pids.current stays at the limit ($out)" ||
    not_ok "pids.current: $out (rc $rc)"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"PidsLimit":-1}}')
check_eq "PidsLimit -1 (unlimited) is accepted" 201 "$(code)"

dk rm -f ns in pl
plan_end
