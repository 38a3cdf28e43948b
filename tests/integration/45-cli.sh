#!/usr/bin/env bash
# The `container` CLI end to end against a real container-apiserver on a temp
# data root and run root, with the busybox test image loaded through the API.
# VMs run under TCG; at most two at a time, 256 MiB each.
source "$(dirname "$0")/../lib.sh"
plan_start
source "$(dirname "$0")/45-cli-lib.bash"
cli_fixtures

# ---- system ----
ctr ls
check_eq "ls without a daemon fails" 1 "$rc"
check_contains "it says the system is not running" "$err" 'container system is not running; start it with `container system start`'

cli_system_start
ctr system start --root "$root" --run-root "$run"
check_contains "second system start says it is running" "$out" "already running"
ctr system status --format json
check_eq "system status: running" true "$(jq -r .Running <<<"$out")"
check_eq "system status: data root" "$root" "$(jq -r .DataRoot <<<"$out")"
ctr system version
check_contains "system version lists the daemon" "$out" "container-apiserver"

if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    chmod o+x "$T_TMP" "$run" # let `nobody` reach the socket itself (mode 0660)
    rc=0
    err=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$C" ls 2>&1 >/dev/null) || rc=$?
    check_eq "a user outside the socket's group is refused" 1 "$rc"
    check_contains "the refusal says what to fix" "$err" "permission denied on the API socket"
    sock_group=$(stat -c %G "$run/container.sock")
    if [ "$sock_group" != root ]; then
        check_contains "the refusal names the group" "$err" "group \`$sock_group\`"
    else
        check_contains "the refusal names the owner" "$err" "run as \`root\`"
    fi
else
    skip "setpriv missing or not root: socket permission message not checked"
fi

# ---- images in ----
ctr image load -i "$T_TMP/busybox.tar"
check_eq "image load" 0 "$rc"
check_contains "image load names the image" "$out$err" "busybox"
ctr image ls
check_contains "image ls shows busybox" "$out" "busybox"
image_id=$("$C" image inspect busybox | jq -r '.[0].Id')
check_contains "image inspect gives the manifest digest" "$image_id" "sha256:"

# ---- the lifecycle: create → start → exec → logs → stop → start → rm ----
ctr create --name life -m 256M busybox sh -c 'echo started; exec sleep 1000'
check_eq "create" 0 "$rc"
life_id=$out
check_eq "create prints a 64-hex id" 1 "$(grep -cE '^[0-9a-f]{64}$' <<<"$life_id")"
check_eq "created container is listed as created" created "$(status_of life)"
ctr start "${life_id:0:7}"
check_eq "start by id prefix" 0 "$rc"
check_eq "running after start" running "$(status_of life)"
ctr ls
check_contains "ls table has the header" "$out" "CONTAINER ID   IMAGE"
check_contains "ls table shows the short id" "$out" "${life_id:0:12}"
check_eq "ls -q prints the short id" "${life_id:0:12}" "$("$C" ls -q)"
ctr exec life sh -c 'echo kept > /root/marker; echo to-out; echo to-err >&2'
check_eq "exec" 0 "$rc"
check_eq "exec stdout alone" to-out "$out"
check_eq "exec stderr alone" to-err "$err"
ctr exec life sh -c 'exit 3'
check_eq "exec exit code" 3 "$rc"
ctr exec -e FOO=bar -w /tmp life sh -c 'echo $FOO $(pwd)'
check_eq "exec -e -w" "bar /tmp" "$out"
ctr logs life
check_eq "logs" started "$out"
ctr stop -t 1 "${life_id:0:10}"
check_eq "stop by id prefix" 0 "$rc"
check_eq "stopped" exited "$(status_of life)"
ctr start life
check_eq "start again by name" 0 "$rc"
ctr exec life cat /root/marker
check_eq "root changes kept across stop/start" kept "$out"
ctr stats --no-stream life
check_eq "stats --no-stream" 0 "$rc"
check_contains "stats prints the table header" "$out" "MEM USAGE / LIMIT"
check_contains "  and a row for the container with the VM's memory as the limit" "$out" "life"
check_contains "  (limit)" "$out" "/ 256MiB"
ctr stats --no-stream --format json life
check_eq "stats --format json: memory usage > 0, limit = 256 MiB" "true 268435456" \
    "$(jq -r '.[0] | "\(.memoryUsage > 0) \(.memoryLimit)"' <<<"$out")"
ctr rm life
check_eq "rm of a running container is refused" 1 "$rc"
check_contains "the refusal says why" "$err" "life"
ctr stop -t 1 life
ctr rm "${life_id:0:8}"
check_eq "rm by id prefix" 0 "$rc"
check_eq "gone from ls -a" "" "$(status_of life)"
ctr stop nosuchcontainer
check_eq "stop of an unknown container fails" 1 "$rc"
check_contains "the error names it" "$err" "nosuchcontainer"

# ---- run in the foreground ----
ctr run --rm -m 256M busybox sh -c 'echo o; echo e >&2; exit 5'
check_eq "run exits with the container's code" 5 "$rc"
check_eq "run stdout alone" o "$out"
check_eq "run stderr alone" e "$err"
ctr run --rm --name tmp -m 256M -e A=1 busybox sh -c 'echo $A'
check_eq "run --rm -e" 1 "$out"
check_eq "--rm removed it" "" "$(status_of tmp)"
echo piped | timeout 120 "$C" run --rm -i -m 256M busybox cat >"$T_TMP/out" 2>"$T_TMP/err"
check_eq "run -i forwards stdin and its EOF" piped "$(cat "$T_TMP/out")"
ctr run --rm -m 256M busybox nosuchcommand
check_eq "run of a missing command exits 127" 127 "$rc"
ctr run -m 64M busybox true
check_contains "run -m below the floor is refused naming it" "$err" "128 MiB"

# ---- run -d, logs -f, wait, attach ----
ctr run -d --name bg -m 256M busybox sh -c 'for i in 1 2 3; do echo line$i; sleep 1; done; exit 7'
check_eq "run -d" 0 "$rc"
ctr logs -f bg
check_eq "logs -f streams until the end" "$(printf 'line1\nline2\nline3')" "$out"
ctr wait bg
check_eq "wait prints the exit code" 7 "$out"
ctr logs -n 1 bg
check_eq "logs -n 1" line3 "$out"
ctr rm bg

ctr run -d --name att -m 256M busybox sh -c 'sleep 4; echo attached-output; exit 4'
ctr attach att
check_eq "attach exits with the container's code" 4 "$rc"
check_contains "attach relays the output" "$out" attached-output
ctr rm att

# ---- run -it in a pseudo-terminal: size, SIGWINCH, Ctrl-C, detach keys ----
if command -v python3 >/dev/null; then
    while IFS= read -r line; do
        case $line in
        PASS\ *) ok "${line#PASS }" ;;
        FAIL\ *) not_ok "${line#FAIL }" ;;
        esac
    done < <(timeout -k 5 240 python3 "$TOP/tests/integration/cli_tty_check.py" "$C" tty 2>&1)
    check_eq "after detaching the container keeps running" running "$(status_of tty)"
    ctr rm -f tty
else
    skip "python3 missing: run -it in a pty not checked"
fi

# ---- restart, prune ----
ctr run -d --name rs -m 256M busybox sh -c 'echo boot; exec sleep 1000'
# the first boot must have printed before the restart's SIGTERM can land
one_boot() { [ "$("$C" logs rs | grep -c boot)" = 1 ]; }
wait_for 60 one_boot
ctr restart -t 1 rs
check_eq "restart" 0 "$rc"
two_boots() { [ "$("$C" logs rs | grep -c boot)" = 2 ]; }
wait_for 60 two_boots || diag "$("$C" logs -t rs 2>&1)" "$("$C" inspect rs | jq -c '.[0].State')"
check_eq "restart ran the process again" 2 "$("$C" logs rs | grep -c boot)"
check_eq "running after restart" running "$(status_of rs)"
ctr run -m 256M --name done1 busybox true
ctr prune
check_eq "prune" 0 "$rc"
check_eq "prune removed the stopped one" "" "$(status_of done1)"
check_eq "prune kept the running one" running "$(status_of rs)"

# ---- system df, system logs, an ambiguous id prefix ----
ctr system df
check_eq "system df" 0 "$rc"
check_contains "system df has an Images row" "$out" "Images "
check_contains "system df has a Containers row" "$out" "Containers "
ctr system df --format json
check_eq "system df --format json: 1 image, 1 container active" "1 1 1" \
    "$(jq -r '"\(.Images.Count) \(.Containers.Count) \(.Containers.Active)"' <<<"$out")"
ctr system logs -n 200
check_eq "system logs" 0 "$rc"
check_contains "system logs shows the daemon's own log (rs's start)" "$out" "started (shim pid"
check_eq "system logs -n 3 prints 3 lines" 3 "$("$C" system logs -n 3 | wc -l)"
# pigeonhole: among 17 ids two share their first hex digit
declare -A first=()
amb=
for i in $(seq 1 17); do
    id=$("$C" create --name amb$i -m 256M busybox true) || break
    [ -n "${first[${id:0:1}]:-}" ] && { amb=${id:0:1}; break; }
    first[${id:0:1}]=$id
done
if [ -n "$amb" ]; then
    ctr inspect "$amb"
    check_eq "an ambiguous id prefix is an error" 1 "$rc"
    check_contains "  that says so and names the prefix" "$err" "multiple IDs found with provided prefix: $amb"
else
    not_ok "an ambiguous id prefix is an error (could not create 17 containers)"
fi
"$C" ls -a --format json | jq -r '.[] | select(.name | startswith("amb")) | .name' | xargs -r "$C" rm >/dev/null
check_eq "the amb containers are gone" 0 "$("$C" ls -a --format json | jq '[.[] | select(.name | startswith("amb"))] | length')"
ctr ls --format json
check_eq "ls --format json is an array of containers" rs "$(jq -r '.[0].name' <<<"$out")"
ctr rm -f rs
check_eq "rm -f of a running container" 0 "$rc"

# ---- image save → rm → load round trip ----
ctr image save -o "$T_TMP/saved.tar" busybox
check_eq "image save" 0 "$rc"
ctr image rm busybox
check_eq "image rm" 0 "$rc"
ctr image inspect busybox
check_eq "the image is gone" 1 "$rc"
ctr image load -i "$T_TMP/saved.tar"
check_eq "image load of the saved archive" 0 "$rc"
check_eq "the id survives the round trip" "$image_id" "$("$C" image inspect busybox | jq -r '.[0].Id')"

ctr system stop
check_eq "system stop" 0 "$rc"
ctr ls
check_contains "stopped: not running again" "$err" "container system is not running"
plan_end
