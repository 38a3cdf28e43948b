#!/usr/bin/env bash
# Bind mounts, tmpfs and named volumes end to end: the CLI against a real
# container-apiserver on a temp data root, busybox image, VMs under TCG (at most two
# at a time, 256 MiB each). docs/volumes.md.
source "$(dirname "$0")/../lib.sh"
plan_start
source "$(dirname "$0")/45-cli-lib.bash"
cli_fixtures
# busyvol: the same image with `VOLUME /etc` in its config (new config, manifest, index).
cp -r "$T_TMP/oci" "$T_TMP/oci-vol"
blob() { echo "$T_TMP/oci-vol/blobs/sha256/${1#sha256:}"; }
mdig=$(jq -r '.manifests[0].digest' "$T_TMP/oci-vol/index.json")
cdig=$(jq -r '.config.digest' "$(blob "$mdig")")
jq -c '.config.Volumes = {"/etc": {}}' "$(blob "$cdig")" >"$T_TMP/cfg.json"
ncdig=sha256:$(sha256sum "$T_TMP/cfg.json" | cut -c1-64)
cp "$T_TMP/cfg.json" "$(blob "$ncdig")"
jq -c --arg d "$ncdig" --argjson s "$(stat -c %s "$T_TMP/cfg.json")" '.config.digest = $d | .config.size = $s' \
    "$(blob "$mdig")" >"$T_TMP/man.json"
nmdig=sha256:$(sha256sum "$T_TMP/man.json" | cut -c1-64)
cp "$T_TMP/man.json" "$(blob "$nmdig")"
jq --arg d "$nmdig" --argjson s "$(stat -c %s "$T_TMP/man.json")" \
    '.manifests[0].digest = $d | .manifests[0].size = $s |
     .manifests[0].annotations["io.containerd.image.name"] = "docker.io/library/busyvol:latest"' \
    "$T_TMP/oci-vol/index.json" >"$T_TMP/idx.json" && mv "$T_TMP/idx.json" "$T_TMP/oci-vol/index.json"
tar -C "$T_TMP/oci-vol" -cf "$T_TMP/busyvol.tar" . || need "tar of the busyvol layout failed"

cli_system_start
ctr image load -i "$T_TMP/busybox.tar"
check_eq "image load" 0 "$rc"
ctr image load -i "$T_TMP/busyvol.tar"
check_eq "image load (busyvol: VOLUME /etc)" 0 "$rc"

host=$T_TMP/host
mkdir -p "$host/dir/sub" "$host/ro"
echo "from the host" >"$host/dir/hello.txt"
echo "single file" >"$host/single.conf"
echo "read only" >"$host/ro/file"

# ---- errors, before any VM ----
ctr run --rm -m 256M -v relative/path:/mnt busybox true
check_eq "relative host path refused" 125 "$rc"
check_contains "the message says absolute" "$err" "must be an absolute host path"
ctr run --rm -m 256M -v "$host/missing":/mnt busybox true
check_eq "missing host path refused" 125 "$rc"
check_contains "the message names the missing path" "$err" "$host/missing"
ctr run --rm -m 256M -v "$host/dir":relative busybox true
check_eq "relative target refused" 125 "$rc"
check_contains "target message" "$err" "must be an absolute path"
ctr run --rm -m 256M -v "$host/dir":/mnt:rx busybox true
check_contains "unknown mode refused" "$err" 'unknown option `rx`'
ctr run --rm -m 256M --mount type=bind,source="$host/dir" busybox true
check_contains "--mount without target refused" "$err" "needs a target"
ctr run --rm -m 256M --mount type=npipe,source=/x,target=/y busybox true
check_contains "--mount of an unknown type refused" "$err" 'mount type `npipe` is not supported'
for i in 1 2 3 4 5; do mkdir -p "$host/many$i"; done
args=()
for i in 1 2 3 4 5; do args+=(-v "$host/many$i:/m$i"); done
ctr run --rm -m 256M "${args[@]}" busybox true
check_eq "more shares than virtio devices refused" 125 "$rc"
check_contains "the limit is named" "$err" "can share at most 4"
ctr ls -a -q
check_eq "no container left behind by refused runs" "" "$out"

# ---- bind mounts: read, write, :ro, single file, tmpfs, shm ----
ctr run --rm -m 256M -v "$host/dir":/data -v "$host/ro":/ro:ro \
    --mount type=bind,source="$host/single.conf",target=/etc/app/single.conf,readonly \
    --tmpfs /scratch:size=8m --shm-size 32m busybox sh -c '
    cat /data/hello.txt; echo "from the container" >/data/back.txt; mkdir /data/sub/made
    cat /ro/file; echo x >/ro/new 2>/dev/null && echo RO-WRITABLE
    cat /etc/app/single.conf; echo y >>/etc/app/single.conf 2>/dev/null && echo FILE-WRITABLE
    ls /etc/app
    grep " /scratch " /proc/mounts; grep " /dev/shm " /proc/mounts | tail -1
    stat -c "%u:%g" /data/back.txt'
check_eq "run with binds exits 0" 0 "$rc"
check_contains "host file read in the container" "$out" "from the host"
check_eq "container write seen on the host" "from the container" "$(cat "$host/dir/back.txt" 2>/dev/null)"
check "directory made in the container exists on the host" test -d "$host/dir/sub/made"
check_eq "files written by root in the container are root's on the host" "0:0" "$(stat -c %u:%g "$host/dir/back.txt" 2>/dev/null)"
check_contains ":ro mount readable" "$out" "read only"
case $out in *RO-WRITABLE*) not_ok ":ro refuses writes" ;; *) ok ":ro refuses writes" ;; esac
check "nothing written into the :ro host dir" test ! -e "$host/ro/new"
check_contains "single-file mount read" "$out" "single file"
case $out in *FILE-WRITABLE*) not_ok "readonly single file refuses writes" ;; *) ok "readonly single file refuses writes" ;; esac
check_eq "single-file mount shows only that file" "single.conf" "$(grep -x 'single.conf' <<<"$out")"
check_contains "tmpfs mounted with its size" "$out" "/scratch tmpfs"
check_contains "tmpfs size honoured" "$out" "size=8192k"
check_contains "shm-size honoured" "$out" "size=32768k"
check_eq "single file unchanged on the host" "single file" "$(cat "$host/single.conf")"
check_contains "tmpfs is noexec by default, as docker's" "$(grep ' /scratch ' <<<"$out")" "noexec"

# ---- --read-only root: binds and tmpfs stay writable ----
ctr run --rm -m 256M --read-only -v "$host/dir":/data --tmpfs /tmp busybox sh -c '
    echo a >/data/from-ro-root && echo data-ok; echo b >/tmp/x && echo tmp-ok
    echo c >/rootfile 2>/dev/null || echo root-refused; echo d >/dev/shm/x && echo shm-ok
    grep -q "$(hostname)" /etc/hosts && echo hosts-ok; grep -q "^nameserver " /etc/resolv.conf && echo resolv-ok'
check_eq "--read-only with a bind and a tmpfs" 0 "$rc"
# the busybox image has neither /etc/hosts nor /etc/resolv.conf: a read-only root gets them too
check_eq "writes go to the bind and the tmpfs, not the root; /etc/hosts and resolv.conf are there" \
    "data-ok tmp-ok root-refused shm-ok hosts-ok resolv-ok" "$(echo $out)"
check "the bind write landed on the host" test -f "$host/dir/from-ro-root"

# ---- a host edit seen while the container runs; a second container shares a volume ----
ctr run -d --name watcher -m 256M -v "$host/dir":/data -v shared:/vol busybox sh -c '
    while :; do cat /data/live.txt >/vol/seen.new 2>/dev/null && mv /vol/seen.new /vol/seen; sleep 0.2; done'
check_eq "long-running container with a bind and a volume" 0 "$rc"
ctr volume ls -q
check_contains "-v NAME creates the volume on first use" "$out" "shared"
ctr inspect watcher
check_eq "inspect shows the mounts as docker does" \
    "bind $host/dir /data true|volume shared /vol true" \
    "$(jq -r '[.[0].Mounts[] | "\(.Type) \(.Name // .Source) \(.Destination) \(.RW)"] | join("|")' <<<"$out")"
echo "edit 1" >"$host/dir/live.txt"
vol_dir=$("$C" volume inspect shared | jq -r '.[0].Mountpoint')
check_contains "volume mountpoint under the data root" "$vol_dir" "$root/volumes/shared/_data"
wait_for 60 grep -qx "edit 1" "$vol_dir/seen"
check_eq "first host edit seen in the container" "edit 1" "$(cat "$vol_dir/seen" 2>/dev/null)"
echo "edit 2" >"$host/dir/live.txt"
wait_for 30 grep -qx "edit 2" "$vol_dir/seen"
check_eq "host edit seen while the container runs" "edit 2" "$(cat "$vol_dir/seen" 2>/dev/null)"

ctr run --rm -m 256M -v shared:/v busybox sh -c 'cat /v/seen; echo "from the second" >/v/second'
check_eq "second container on the same volume" 0 "$rc"
check_contains "second container reads the first one's writes" "$out" "edit"
ctr exec watcher cat /vol/second
check_eq "the running container sees the second one's write" "from the second" "$out"

ctr volume rm shared
check_eq "volume in use cannot be removed" 1 "$rc"
check_contains "the refusal names the container" "$err" '`watcher`'
ctr rm -f watcher
check_eq "rm -f watcher" 0 "$rc"

# ---- copy-up: a volume's first use gets the image's content at its path ----
ctr run --rm -m 256M -v fresh:/etc busybox sh -c 'grep -c root /etc/passwd; echo mine >/etc/mine'
check_eq "copy-up: the image's /etc is in a new named volume" 0 "$rc"
check "copy-up: the image's file is on the host" grep -q root "$root/volumes/fresh/_data/passwd"
check_eq "copy-up keeps modes" "$(stat -c %a "$root/volumes/fresh/_data/passwd")" "644"
rm "$root/volumes/fresh/_data/passwd"
ctr run --rm -m 256M -v fresh:/etc busybox sh -c 'cat /etc/mine; ls /etc/passwd 2>&1'
check_contains "a volume with content is not copied into again" "$out" "No such file"
check_contains "  and keeps what was written" "$out" "mine"
ctr run --rm -m 256M -v bare:/etc:nocopy busybox sh -c 'ls -A /etc | wc -l'
check_eq "nocopy: the volume starts empty" "0" "$out"
ctr run --name bv -m 256M busyvol sh -c 'grep -c root /etc/passwd; grep " /etc " /proc/mounts | cut -d" " -f3'
check_eq "image VOLUME: an anonymous volume pre-populated from the image" "1 9p" "$(echo $out)"
ctr rm bv
anon=$("$C" volume ls -q | grep -E '^[0-9a-f]{64}$' | head -1)
check "image VOLUME: the anonymous volume is listed (64 hex digits)" test -n "$anon"
check "  and holds the image's files on the host" test -f "$root/volumes/$anon/_data/passwd"
check_eq "  labelled as docker labels anonymous volumes" "" \
    "$("$C" volume inspect "$anon" | jq -r '.[0].Labels["com.docker.volume.anonymous"]')"
ctr volume rm fresh bare "$anon"
check_eq "copy-up volumes removed" 0 "$rc"

# ---- anonymous volumes: -v /path, --mount type=volume without source, API Volumes ----
anon_names() { "$C" volume ls -q -f label=com.docker.volume.anonymous | xargs; }
ctr create --name anon1 -m 256M -v /scratch --mount type=volume,target=/other,readonly busybox true
check_eq "create -v /path and --mount type=volume without source" 0 "$rc"
a1=$(anon_names)
check_eq "  two anonymous volumes are made (64 hex digits each)" 2 "$(grep -cE '^[0-9a-f]{64}$' <<<"${a1// /$'\n'}")"
ctr inspect anon1
check_eq "  inspect names them in Mounts with their targets and modes" \
    "/other false|/scratch true" \
    "$(jq -r '[.[0].Mounts[] | select(.Type == "volume") | "\(.Destination) \(.RW)"] | sort | join("|")' <<<"$out")"
check_eq "  the Mounts names are the volumes'" "$a1" \
    "$(jq -r '[.[0].Mounts[] | select(.Type == "volume") | .Name] | sort | join(" ")' <<<"$out")"
ctr rm anon1
check_eq "rm without -v keeps the anonymous volumes (docker's)" "$a1" "$(anon_names)"
"$C" volume rm $a1 >/dev/null
ctr create --name anon2 -m 256M -v /scratch -v named-kept:/named busybox true
ctr rm -v anon2
check_eq "rm -v removes the container's anonymous volumes" "" "$(anon_names)"
ctr volume ls -q
check_contains "  but not its named ones" "$out" "named-kept"
ctr volume rm named-kept
# the API form docker run -v /path sends: Config.Volumes
curl -sS --unix-socket "$run/container.sock" -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","Cmd":["true"],"Volumes":{"/api-vol":{}},"HostConfig":{"Binds":["/api-bind"]}}' \
    'http://d/v1.43/containers/create?name=anon3' >"$T_TMP/create.json"
check_eq "API: Config.Volumes and a one-element Binds entry create anonymous volumes" 2 \
    "$(anon_names | wc -w)"
ctr rm -v anon3
check_eq "  removed by rm -v" "" "$(anon_names)"
ctr run --rm -m 256M -v /scratch busybox sh -c 'grep " /scratch " /proc/mounts | cut -d" " -f3; echo x >/scratch/f && echo wrote'
check_eq "run -v /path: a 9p volume the container writes" "9p wrote" "$(echo $out)"
check_eq "run --rm removes the anonymous volume (docker's)" "" "$(anon_names)"
ctr run --rm -m 256M -v /only:ro busybox true
check_contains "a mode without a source is refused (docker's rule)" "$err" 'mount target `ro` must be an absolute path'

# ---- volumes outlive containers; create/ls/inspect/prune ----
ctr run --rm -m 256M -v shared:/again busybox cat /again/second
check_eq "a volume outlives rm and is reattached by name" "from the second" "$out"
ctr volume create --label team=infra keep
check_eq "volume create" 0 "$rc"
ctr volume inspect keep
check_eq "label kept" infra "$(jq -r '.[0].Labels.team' <<<"$out")"
ctr volume create -o type=nfs keepnfs
check_contains "other volume types refused (block volumes: 71-block-volumes)" "$err" \
    'volume option `type=nfs` is not supported'
ctr volume create 'bad/name'
check_contains "bad volume name refused" "$err" "invalid volume name"
ctr create --name holder -m 256M -v keep:/k busybox true
check_eq "a created container holds a volume" 0 "$rc"
ctr volume prune
check_eq "volume prune" 0 "$rc"
check_eq "prune without --all keeps the named volumes (docker >= 23)" "" "$(grep -x shared <<<"$out")"
ctr volume prune -a
check_eq "volume prune -a" 0 "$rc"
check_contains "prune -a removed the unused volume" "$out" "shared"
ctr volume ls -q
check_eq "prune kept the volume a container uses" "keep" "$out"
ctr volume create -l app=a fa
ctr volume create -l app=b fb
ctr volume ls -q --filter label=app=a
check_eq "volume ls --filter label=K=V" "fa" "$out"
ctr volume ls -q -f label=app
check_eq "volume ls --filter label=K" "fa fb" "$(echo $out)"
ctr volume ls -q -f dangling=false
check_eq "volume ls --filter dangling=false: the volumes in use" "keep" "$out"
ctr volume ls -q -f name=b
check_eq "volume ls --filter name= (substring)" "fb" "$out"
ctr volume ls -f bogus=1
check_contains "an unknown filter is refused" "$err" "invalid filter 'bogus'"
ctr volume prune --filter label=app=b
check_eq "volume prune --filter label= without --all: named volumes kept" "fa fb keep" "$("$C" volume ls -q | xargs)"
ctr volume prune -a --filter label=app=b
check_eq "volume prune --filter label= removes only the matching unused ones" "fa keep" "$("$C" volume ls -q | xargs)"
ctr volume rm fa
ctr rm holder
ctr volume rm keep
check_eq "volume rm once unused" 0 "$rc"
ctr volume rm keep
check_contains "removing a missing volume names it" "$err" 'volume `keep` not found'

plan_end
