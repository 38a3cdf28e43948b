#!/usr/bin/env bash
# Files in and out of containers (`container-runtime archive`, the C API under the
# daemon's cp/export): stat, get and put on a running container (through its shim)
# and on a stopped one (maintenance VM), docker's tar layout, modes, owners,
# symlinks, hard links, a 100 MB file both ways, `..` entries kept inside the root,
# export, the bundle lock. One VM at a time, 384 MiB, TCG here.
source "$(dirname "$0")/../lib.sh"
plan_start

source "$(dirname "$0")/30-runtime-lib.bash"
runtime_fixtures
command -v python3 >/dev/null || need "python3 missing"
image=$T_TMP/image.ext4
manifest=$(jq -r '.manifests[0].digest' "$T_TMP/oci/index.json")
layer=$(jq -r '.layers[0].digest' "$T_TMP/oci/blobs/sha256/${manifest#sha256:}")
"$BIN/container-unpack" -o "$image" "$T_TMP/oci/blobs/sha256/${layer#sha256:}:application/vnd.oci.image.layer.v1.tar+gzip" \
    >"$T_TMP/unpack.log" 2>&1 || need "unpack of the busybox layer failed: $(tail -3 "$T_TMP/unpack.log")"

b=$T_TMP/ct
mkdir -p "$b/disks"
truncate -s 1G "$b/disks/rw.ext4"
mke2fs -q -t ext4 -F "$b/disks/rw.ext4"
jq -n --arg k "$kernel" --arg i "$initrd" --arg img "$image" \
    '{version: 1, id: "ct",
      vm: {kernel: $k, initrd: $i, cpus: 1, memory_mib: 384, boot_timeout_ms: 60000},
      disks: [{serial: "image", path: $img, readonly: true},
              {serial: "rw", path: "disks/rw.ext4", readonly: false}],
      setup: {hostname: "ct", root_lower: "serial:image", root_upper: "serial:rw",
              mounts: [{source: "tmpfs", target: "/scratch", fstype: "tmpfs", options: "size=8m"}]},
      process: {args: ["sh", "-c", "mkdir -p /srv /dst; echo written-by-ct >/srv/made; touch /scratch/in-tmpfs; exec sleep 3600"],
                env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], cwd: "/"}}' >"$b/config.json"
at_exit "timeout 30 $RT stop -t 0 $b"

arc() { # arc ARGS... : sets out (stdout file), err, rc
    rc=0
    timeout -k 5 300 "$RT" archive "$@" >"$T_TMP/arc.out" 2>"$T_TMP/arc.err" || rc=$?
    err=$(cat "$T_TMP/arc.err")
}
ex() { timeout -k 5 60 "$RT" exec "$b" -- sh -c "$1" 2>&1; }

# ---- the host tree to upload: modes, owners, symlinks (one to /etc), a hard link, 100 MB ----
src=$T_TMP/src
mkdir -p "$src/tree/sub" "$src/tree/priv"
echo hello >"$src/tree/sub/file"
chmod 640 "$src/tree/sub/file"
printf '#!/bin/sh\necho run\n' >"$src/tree/tool"
chmod 4755 "$src/tree/tool"
ln -s sub/file "$src/tree/rel"
ln -s /etc "$src/tree/etclink"
ln "$src/tree/sub/file" "$src/tree/hard"
chmod 700 "$src/tree/priv"
touch -d '2001-02-03 04:05:06 UTC' "$src/tree/sub/file"
head -c 100M /dev/urandom >"$src/tree/big"
big_sum=$(sha256sum <"$src/tree/big" | cut -c1-64)
tar -C "$src" --owner=1234 --group=5678 -cf "$T_TMP/tree.tar" tree

# ---- running container: through the shim ----
rc=0
timeout -k 5 120 "$RT" start "$b" >"$T_TMP/start.log" 2>&1 || rc=$?
check_eq "the container starts" 0 "$rc"
[ "$rc" -eq 0 ] || { diag "$(cat "$T_TMP/start.log")"; plan_end; exit 1; }

arc "$b" stat /etc/passwd
check_eq "stat /etc/passwd (running)" \
    "0 passwd $(ex 'wc -c </etc/passwd' | tr -d ' ') 420" \
    "$rc $(jq -r '"\(.name) \(.size) \(.mode)"' "$T_TMP/arc.out")"
arc "$b" stat /bin/sh
check_eq "stat of a symlink: Go ModeSymlink and its target" "134218239 /bin/busybox" \
    "$(jq -r '"\(.mode) \(.link_target)"' "$T_TMP/arc.out")"
arc "$b" stat /etc
check_eq "stat of a directory: Go ModeDir" "$(((1 << 31) | 0755))" "$(jq -r .mode "$T_TMP/arc.out")"
arc "$b" stat /nonexistent
check_eq "stat of a missing path fails" 1 "$rc"
check_contains "… with ENOENT's message" "$err" "no such file or directory: /nonexistent"

arc "$b" get /srv/made
check_eq "get of a file: one entry named after it" "made" "$(tar -tf "$T_TMP/arc.out")"
check_eq "… with the content the container wrote" "written-by-ct" "$(tar -xOf "$T_TMP/arc.out")"
arc "$b" get /etc
check_contains "get of a directory: entries under etc/" "$(tar -tf "$T_TMP/arc.out")" "etc/passwd"
check_eq "… and nothing outside it" "" "$(tar -tf "$T_TMP/arc.out" | grep -v '^etc/\?' || true)"
arc "$b" get /etc/.
check_contains "get of dir/. gives the contents" "$(tar -tf "$T_TMP/arc.out")" "./passwd"
arc "$b" get /nonexistent
check_eq "get of a missing path fails" 1 "$rc"
check_contains "… with ENOENT's message" "$err" "no such file or directory"

arc "$b" put /srv/made <"$T_TMP/tree.tar"
check_eq "put onto a file fails" 1 "$rc"
check_contains "… saying it is not a directory" "$err" "not a directory"

t0=$SECONDS
arc "$b" put /dst <"$T_TMP/tree.tar"
check_eq "put of a tree with a 100 MB file (running) exits 0" 0 "$rc"
diag "100 MB in: $((SECONDS - t0)) s"
check_eq "modes, owners and symlinks kept" \
    "640 1234 5678
4755 1234 5678
700 1234 5678
/etc
sub/file
2" \
    "$(ex 'cd /dst/tree; stat -c "%a %u %g" sub/file tool priv; readlink etclink; readlink rel; stat -c %h hard')"
check_eq "the mtime of an entry is kept" "981173106" "$(ex 'stat -c %Y /dst/tree/sub/file')"
check_eq "sha256 of the 100 MB file inside the container" "$big_sum" \
    "$(ex 'sha256sum /dst/tree/big' | cut -c1-64)"

t0=$SECONDS
arc "$b" get /dst/tree
check_eq "get of the tree (running) exits 0" 0 "$rc"
diag "100 MB out: $((SECONDS - t0)) s"
mkdir "$T_TMP/back"
tar -C "$T_TMP/back" -xf "$T_TMP/arc.out"
cp "$T_TMP/arc.out" "$T_TMP/back.tar"
check_eq "the 100 MB file comes back with the same sha256" "$big_sum" \
    "$(sha256sum <"$T_TMP/back/tree/big" | cut -c1-64)"
listing=$(tar -tvf "$T_TMP/arc.out" --numeric-owner)
check_contains "the symlink to /etc comes back as a symlink" "$listing" "tree/etclink -> /etc"
check_contains "the hard link comes back as a link" "$(tar -tvf "$T_TMP/arc.out")" "link to tree/"
check_contains "owners come back numeric" "$listing" "-rw-r----- 1234/5678"
check_contains "setuid mode comes back" "$listing" "-rwsr-xr-x 1234/5678"

# A reader that stalls: the shim paces the guest instead of dropping the client.
timeout 300 "$RT" archive "$b" get /dst/tree/big 2>/dev/null |
    (sleep 5; tar -xOf - | sha256sum | cut -c1-64) >"$T_TMP/slow.sum"
check_eq "a stalled reader is paced, not dropped: same sha256" "$big_sum" "$(cat "$T_TMP/slow.sum")"
check_eq "… and the container still answers" "ok" "$(ex 'echo ok')"

# A hostile tar: `..` entries, an absolute name, and a symlink leading out of /dst.
python3 - "$T_TMP/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, data=b"x"):
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    add("/abs-entry")
    l = tarfile.TarInfo("up"); l.type = tarfile.SYMTYPE; l.linkname = "../../.."; t.addfile(l)
    add("../../../../escaped")
EOF
ex 'mkdir -p /dst/sub' >/dev/null
arc "$b" put /dst/sub <"$T_TMP/evil.tar"
check_eq "a tar with a .. entry is refused" 1 "$rc"
check_contains "… naming the entry" "$err" "escaped"
check_eq "an absolute entry lands under the destination; nothing escaped" \
    "/dst/sub/abs-entry" "$(ex 'ls -d /abs-entry /dst/sub/abs-entry /escaped /dst/escaped /dst/sub/escaped 2>/dev/null')"

# ---- the bundle lock: no maintenance VM while the container runs ----
rc=0
timeout 30 "$RT" archive "$b" stat / --result-fd 3 3>"$T_TMP/result.json" 2>/dev/null || rc=$?
check_eq "a maintenance VM is refused while the container runs" 1 "$rc"
check_eq "… with EBUSY in the result" 16 "$(jq -r .errno "$T_TMP/result.json")"

# ---- stopped container: maintenance VM ----
timeout 60 "$RT" stop -t 0 "$b" >/dev/null 2>&1
state_before=$(cat "$b/state.json")
check_eq "the container is stopped" stopped "$(jq -r .status "$b/state.json")"

arc "$b" stat /nonexistent
check_eq "stat of a missing path (stopped) fails" 1 "$rc"
check_contains "… with ENOENT's message" "$err" "no such file or directory: /nonexistent"
rc=0
timeout 120 "$RT" archive "$b" stat /nonexistent --result-fd 3 3>"$T_TMP/result.json" 2>/dev/null || rc=$?
check_eq "the result line carries errno ENOENT" "false 2" "$(jq -r '"\(.ok) \(.errno)"' "$T_TMP/result.json")"

arc "$b" get /srv/made
check_eq "get of a file the container wrote (stopped)" "written-by-ct" "$(tar -xOf "$T_TMP/arc.out")"
arc "$b" get /dst/tree
check_eq "get of a directory tree (stopped) exits 0" 0 "$rc"
check_eq "the 100 MB file from the stopped container, same sha256" "$big_sum" \
    "$(tar -xOf "$T_TMP/arc.out" tree/big | sha256sum | cut -c1-64)"
check_eq "the tree from the stopped container has the same listing" \
    "$(tar -tvf "$T_TMP/back.tar" --numeric-owner | sort)" \
    "$(tar -tvf "$T_TMP/arc.out" --numeric-owner | sort)"

arc "$b" get / --export
check_eq "export (stopped) exits 0" 0 "$rc"
names=$(tar -tf "$T_TMP/arc.out")
check_contains "export holds the file the container wrote" "$names" "srv/made"
check_contains "export holds the image's files" "$names" "bin/busybox"
check_eq "export names have no ./ prefix" "" "$(grep '^\./' <<<"$names" | head -3)"
check_eq "export leaves the tmpfs mount out (empty mount point)" "scratch/" \
    "$(grep '^scratch' <<<"$names")"
check_eq "export leaves /proc's contents out" "proc/" "$(grep '^proc' <<<"$names")"

printf 'offline\n' >"$T_TMP/note"
tar -C "$T_TMP" -cf "$T_TMP/note.tar" note
arc "$b" put /srv <"$T_TMP/note.tar"
check_eq "put into a stopped container" 0 "$rc"
arc "$b" get /srv/note
check_eq "… and the file is there on the next boot" "offline" "$(tar -xOf "$T_TMP/arc.out")"
check_eq "state.json untouched by maintenance VMs" "$state_before" "$(cat "$b/state.json")"
rc=0
e2fsck -fn "$b/disks/rw.ext4" >"$T_TMP/fsck.log" 2>&1 || rc=$?
check_eq "the writable disk is clean after the maintenance VMs (e2fsck -fn)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(tail -5 "$T_TMP/fsck.log")"

exec 9>"$b/archive.lock"
flock -n 9
rc=0
timeout 60 "$RT" archive "$b" stat / --result-fd 3 3>"$T_TMP/result.json" 2>"$T_TMP/arc.err" || rc=$?
check_eq "a second VM for the bundle is refused (lock held)" "1 16" "$rc $(jq -r .errno "$T_TMP/result.json")"
check_contains "… as busy" "$(cat "$T_TMP/arc.err")" "is busy"
# the C API waits out a short busy window (a VM shutting down) instead of failing
(sleep 2; exec 9>&-) &
exec 9>&-
t0=$SECONDS
arc "$b" stat /srv/made
check_eq "a stat while the bundle is busy for 2 s waits and succeeds" "0 made" \
    "$rc $(jq -r .name "$T_TMP/arc.out" 2>/dev/null)"
check "… after the lock was released" test $((SECONDS - t0)) -ge 1
wait

plan_end
