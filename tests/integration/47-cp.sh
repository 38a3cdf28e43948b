#!/usr/bin/env bash
# Files in and out: `container cp` both ways (a tree with modes, symlinks and a 100 MB
# file), `-` tar streams, docker's path rules, `container export` of a stopped
# container, `docker cp` through our socket, and the errors. The CLI against a real
# container-apiserver on a temp data root, busybox, VMs under TCG (at most two at a
# time, 256 MiB each). docs/cli.md, docs/api.md.
source "$(dirname "$0")/../lib.sh"
plan_start
source "$(dirname "$0")/45-cli-lib.bash"
cli_fixtures

cli_system_start
ctr image load -i "$T_TMP/busybox.tar"
check_eq "image load" 0 "$rc"

# ---- the local tree ----
src=$T_TMP/src
mkdir -p "$src/tree/sub/deep" "$src/tree/empty"
echo hello >"$src/tree/hello.txt"
chmod 640 "$src/tree/hello.txt"
chmod 750 "$src/tree/sub"
echo deep >"$src/tree/sub/deep/f"
printf '#!/bin/sh\necho run\n' >"$src/tree/sub/tool.sh"
chmod 755 "$src/tree/sub/tool.sh"
ln -s hello.txt "$src/tree/link"
ln -s ../../etc/passwd "$src/tree/sub/up"
head -c 100M /dev/urandom >"$src/tree/big"
chown 1234:2345 "$src/tree/sub/deep/f"
big_sum=$(sha256sum "$src/tree/big" | cut -d' ' -f1)
# what we compare: type, mode, link target, checksum of regular files
manifest() {
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r f; do
        if [ -L "$f" ]; then
            echo "$f link $(readlink "$f")"
        elif [ -d "$f" ]; then
            echo "$f dir $(stat -c %a "$f")"
        else
            echo "$f file $(stat -c %a "$f") $(sha256sum <"$f" | cut -d' ' -f1)"
        fi
    done)
}
manifest "$src/tree" >"$T_TMP/want"

ctr run -d --name cp1 -m 256M busybox sleep 3600
check_eq "a running container" 0 "$rc"

# ---- local → container ----
ctr cp "$src/tree" cp1:/tmp
check_eq "cp DIR ctr:/tmp (an existing directory: copied into it)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$err"
ctr exec cp1 sh -c 'cd /tmp/tree && stat -c "%n %a %u:%g" hello.txt sub sub/tool.sh sub/deep/f;
    readlink link; readlink sub/up; sha256sum big | cut -d" " -f1; ls -A empty | wc -l'
check_eq "modes kept, owners are root's without -a (docker's), symlinks kept as links, 100 MB intact" \
    "hello.txt 640 0:0 sub 750 0:0 sub/tool.sh 755 0:0 sub/deep/f 644 0:0 hello.txt ../../etc/passwd $big_sum 0" \
    "$(echo $out)"
ctr cp -a "$src/tree/sub" cp1:/tmp/owned
ctr exec cp1 stat -c %u:%g /tmp/owned/deep/f
check_eq "cp -a keeps uid/gid; a missing DST becomes the directory" "1234:2345" "$out"
ctr cp "$src/tree/hello.txt" cp1:/tmp/renamed.txt
ctr exec cp1 cat /tmp/renamed.txt
check_eq "cp FILE ctr:/missing-name creates that file" hello "$out"
echo replaced >"$T_TMP/r.txt"
ctr cp "$T_TMP/r.txt" cp1:/tmp/renamed.txt
ctr exec cp1 cat /tmp/renamed.txt
check_eq "cp FILE onto an existing file replaces it" replaced "$out"
ctr cp "$src/tree/sub/." cp1:/tmp/tree/empty
ctr exec cp1 ls /tmp/tree/empty
check_eq "cp DIR/. copies the contents" "deep tool.sh up" "$(echo $out)"
ctr cp "$src/tree" cp1:/tmp/renamed.txt
check_eq "a directory onto a file is refused" 1 "$rc"
check_contains "  saying so" "$err" "cannot copy directory"
ctr cp "$src/tree/hello.txt" cp1:/no/such/dir/x
check_eq "a missing parent in the container is refused" 1 "$rc"
check_contains "  naming it" "$err" "/no/such/dir"
ctr cp "$src/tree/link" cp1:/tmp/kept-link
ctr cp -L "$src/tree/link" cp1:/tmp/followed
ctr exec cp1 sh -c 'readlink /tmp/kept-link; cat /tmp/followed'
check_eq "a symlink is copied as a link; -L copies its target" "hello.txt hello" "$(echo $out)"

# ---- container → local ----
ctr cp cp1:/tmp/tree "$T_TMP/back"
check_eq "cp ctr:DIR LOCAL (missing: created with the contents)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$err"
manifest "$T_TMP/back" >"$T_TMP/got"
# the container's copy of empty/ got sub's contents above; compare the rest
grep -v '^\./empty/' "$T_TMP/got" >"$T_TMP/got2"
check_eq "round trip: types, modes, link targets and checksums equal (100 MB included)" "" \
    "$(diff "$T_TMP/want" "$T_TMP/got2")"
mkdir -p "$T_TMP/into"
ctr cp cp1:/etc/passwd "$T_TMP/into"
check "cp ctr:FILE DIR: into the directory by its name" grep -q '^root:' "$T_TMP/into/passwd"
ctr cp cp1:/tmp/tree/. "$T_TMP/into"
check "cp ctr:DIR/. DIR: the contents" test -f "$T_TMP/into/hello.txt" -a -d "$T_TMP/into/sub"
ctr cp cp1:/tmp/tree/hello.txt "$T_TMP/into/passwd"
check_eq "cp ctr:FILE onto an existing file replaces it" hello "$(cat "$T_TMP/into/passwd")"
ctr cp -L cp1:/tmp/tree/link "$T_TMP/followed"
check "cp -L ctr:LINK copies the target" test -f "$T_TMP/followed" -a ! -L "$T_TMP/followed"
check_eq "  its content" hello "$(cat "$T_TMP/followed" 2>/dev/null)"

# ---- tar streams ----
ctr cp cp1:/tmp/tree/sub -
check_eq "cp ctr:DIR - writes a tar" 0 "$rc"
tar -tf "$T_TMP/out" >"$T_TMP/list" 2>/dev/null
check_contains "  whose entries are named from the directory" "$(cat "$T_TMP/list")" "sub/deep/f"
tar -C "$src" -cf "$T_TMP/in.tar" tree/hello.txt tree/sub
ctr exec cp1 mkdir /tmp/fromtar
timeout 120 "$C" cp - cp1:/tmp/fromtar <"$T_TMP/in.tar" >/dev/null 2>"$T_TMP/err"
check_eq "cp - ctr:DIR extracts a tar from stdin" 0 "$?"
ctr exec cp1 cat /tmp/fromtar/tree/hello.txt
check_eq "  the file is there" hello "$out"

# ---- errors ----
ctr cp cp1:/nope "$T_TMP/x"
check_eq "a missing path in the container" 1 "$rc"
check_contains "  is named" "$err" "/nope"
ctr cp cp1:/etc/passwd "$T_TMP/missing/dir/x"
check_eq "cp to a missing local parent" 1 "$rc"
check_contains "  names the directory" "$err" "$T_TMP/missing/dir"
ctr cp cp1:/etc/passwd nosuchctr:/x
check_contains "two containers refused" "$err" "between containers"
ctr cp nosuchctr:/etc/passwd "$T_TMP/x"
check_contains "a missing container is named" "$err" "nosuchctr"

# ---- docker cp through our socket ----
if [ -x /usr/local/bin/docker ]; then
    export DOCKER_HOST=unix://$run/container.sock
    timeout 120 /usr/local/bin/docker cp "$src/tree/sub" cp1:/tmp/dk >/dev/null 2>"$T_TMP/err"
    check_eq "docker cp LOCAL ctr:PATH" 0 "$?"
    ctr exec cp1 sh -c 'cat /tmp/dk/deep/f; readlink /tmp/dk/up; stat -c %a /tmp/dk/tool.sh'
    check_eq "  content, symlink and mode arrive" "deep ../../etc/passwd 755" "$(echo $out)"
    # (not sub/: docker's client refuses to extract its symlink leading out, `up`)
    timeout 120 /usr/local/bin/docker cp cp1:/tmp/tree/sub/deep "$T_TMP/dkback" >/dev/null 2>"$T_TMP/err"
    check_eq "docker cp ctr:PATH LOCAL" 0 "$?"
    check_eq "  content arrives" deep "$(cat "$T_TMP/dkback/f" 2>/dev/null)"
    [ -f "$T_TMP/dkback/f" ] || diag "$(cat "$T_TMP/err")"
    timeout 60 /usr/local/bin/docker cp cp1:/nope "$T_TMP/x" >/dev/null 2>"$T_TMP/err"
    check_contains "docker cp of a missing path: docker's message" "$(cat "$T_TMP/err")" \
        "Could not find the file /nope in container cp1"
    unset DOCKER_HOST
else
    skip "docker CLI not at /usr/local/bin/docker: docker cp not tested"
fi
ctr rm -f cp1

# ---- a stopped container: export and cp (a maintenance VM) ----
ctr run --name ex1 -m 256M busybox sh -c 'echo changed >/root/marker; rm /etc/group'
check_eq "a container that changes its filesystem and exits" 0 "$rc"
ctr export -o "$T_TMP/ex1.tar" ex1
check_eq "export -o FILE of a stopped container" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$err"
check_eq "  contains its changes" changed "$(tar -xOf "$T_TMP/ex1.tar" root/marker 2>/dev/null || tar -xOf "$T_TMP/ex1.tar" ./root/marker 2>/dev/null)"
tar -tf "$T_TMP/ex1.tar" >"$T_TMP/exlist" 2>/dev/null
check "  and the image's files" grep -qE '^(\./)?bin/busybox$' "$T_TMP/exlist"
check_eq "  without what it removed" 0 "$(grep -cE '^(\./)?etc/group$' "$T_TMP/exlist")"
timeout 180 "$C" export ex1 >"$T_TMP/ex1b.tar" 2>"$T_TMP/err"
check_eq "export to a redirected stdout" 0 "$?"
check_eq "  the same entries" "$(sort "$T_TMP/exlist")" "$(tar -tf "$T_TMP/ex1b.tar" 2>/dev/null | sort)"
ctr cp ex1:/root/marker "$T_TMP/marker"
check_eq "cp from a stopped container" changed "$(cat "$T_TMP/marker" 2>/dev/null)"
ctr cp "$src/tree/hello.txt" ex1:/root/
check_eq "cp into a stopped container" 0 "$rc"
ctr cp ex1:/root/hello.txt "$T_TMP/h2"
check_eq "  what was copied in is there" hello "$(cat "$T_TMP/h2" 2>/dev/null)"
# an offline copy holds the container: a start sent meanwhile waits, and both succeed
timeout 180 "$C" cp ex1:/bin/busybox "$T_TMP/bb" >/dev/null 2>"$T_TMP/err-cp" &
cpid=$!
sleep 0.5
ctr start ex1
check_eq "start during an offline cp of the stopped container succeeds (serialised)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$err"
wait "$cpid"
check_eq "  and so does the cp" 0 "$?"
{ tar -xOf "$T_TMP/ex1.tar" bin/busybox 2>/dev/null || tar -xOf "$T_TMP/ex1.tar" ./bin/busybox; } >"$T_TMP/bb-export"
check "  which copied the file whole (as export has it)" cmp "$T_TMP/bb" "$T_TMP/bb-export"
ctr wait ex1
ctr export nosuchctr
check_contains "export of a missing container names it" "$err" "nosuchctr"
if command -v script >/dev/null; then
    out=$(CONTAINER_HOST=$CONTAINER_HOST timeout 60 script -qec "$C export ex1" /dev/null 2>&1)
    check_contains "export to a terminal is refused" "$out" "refusing to write an archive to a terminal"
else
    skip "script(1) missing (util-linux): export to a terminal not tested"
fi
ctr rm ex1
plan_end
