#!/usr/bin/env bash
# bench/pull: pull a realistic multi-layer image (a debootstrap'd Debian rootfs split
# into layers, ~100 MB compressed) from a local docker-registry into a runnable state,
# cold (empty destination), by us (ctr-registry pull --unpack: download, verify, ext4
# snapshot), by `podman pull` (fresh --root/--runroot storage each run, overlay: layers
# extracted = runnable) and by `skopeo copy` + `umoci unpack`. Prints all side by side
# with ratios.
# Usage: bench/pull/run.sh [--runs N] [--record]   (--record rewrites the
# "## Pull (bench/pull)" section of docs/performance.md)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=3
RECORD=0
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "usage: $0 [--runs N] [--record]" >&2; exit 2 ;;
    esac
done
source "$TOP/tests/lib.sh"
source "$TOP/tests/integration/50-registry-lib.bash"
for tool in /usr/bin/docker-registry skopeo umoci podman debootstrap "$REG_TOOL"; do
    command -v "$tool" >/dev/null || { echo "bench/pull: missing $tool" >&2; exit 1; }
done

# minbase + python3, perl and git: ~100 MB as 4 gzip layers.
INCLUDE=python3,perl,git
CACHE=$CTR_CACHE/bench-pull
KEY=$(echo "bookworm minbase $INCLUDE v1" | sha256sum | cut -c1-12)
LAYOUT=$CACHE/layout-$KEY
mkdir -p "$CACHE"

# ---- the image (cached): rootfs → 4 gzip layers → OCI layout ----
if [ ! -f "$LAYOUT/index.json" ]; then
    ROOTFS=$CACHE/rootfs-$KEY
    if [ ! -f "$ROOTFS/etc/debian_version" ]; then
        echo "bench/pull: debootstrap --variant=minbase --include=$INCLUDE (cached in $CACHE)" >&2
        rm -rf "$ROOTFS.tmp"
        nice debootstrap --variant=minbase --include="$INCLUDE" bookworm "$ROOTFS.tmp" \
            http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 ||
            { echo "bench/pull: debootstrap failed, see $CACHE/debootstrap.log" >&2; exit 1; }
        rm -rf "$ROOTFS.tmp/var/cache/apt/archives/"*.deb "$ROOTFS.tmp/var/lib/apt/lists/"*
        mv "$ROOTFS.tmp" "$ROOTFS"
    fi
    echo "bench/pull: building the OCI layout $LAYOUT" >&2
    rm -rf "$LAYOUT.tmp"
    nice "$PY" - "$ROOTFS" "$LAYOUT.tmp" <<'PY' || exit 1
import gzip, hashlib, json, os, subprocess, sys
rootfs, out = sys.argv[1], sys.argv[2]
os.makedirs(out + "/blobs/sha256")
split = ["./usr/lib", "./usr/share", "./usr/bin"]
layers = [["--exclude=" + p for p in split] + ["."]] + [[p] for p in split]
descs, diffids = [], []
for args in layers:
    tmp = out + "/layer.tmp"
    raw, comp = hashlib.sha256(), hashlib.sha256()
    p = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "--xattrs", "-cf", "-"] + args,
                         stdout=subprocess.PIPE)
    class W:
        def __init__(s, f): s.f = f
        def write(s, b): comp.update(b); return s.f.write(b)
        def flush(s): s.f.flush()
    with open(tmp, "wb") as f:
        w = W(f)
        with gzip.GzipFile(fileobj=w, mode="wb", compresslevel=6, mtime=0) as g:
            while True:
                b = p.stdout.read(1 << 20)
                if not b: break
                raw.update(b); g.write(b)
    assert p.wait() == 0
    d = comp.hexdigest()
    os.rename(tmp, out + "/blobs/sha256/" + d)
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + d,
                  "size": os.path.getsize(out + "/blobs/sha256/" + d)})
    diffids.append("sha256:" + raw.hexdigest())
def put(obj):
    b = json.dumps(obj, sort_keys=True).encode()
    d = hashlib.sha256(b).hexdigest()
    open(out + "/blobs/sha256/" + d, "wb").write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
cfg = put({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/bash"],
           "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
           "rootfs": {"type": "layers", "diff_ids": diffids}})
man = put({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **cfg), "layers": descs})
json.dump({"schemaVersion": 2, "manifests": [dict(mediaType="application/vnd.oci.image.manifest.v1+json",
           platform={"architecture": "amd64", "os": "linux"},
           annotations={"org.opencontainers.image.ref.name": "bench"}, **man)]},
          open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
    mv "$LAYOUT.tmp" "$LAYOUT"
fi
compressed=$(du -cb "$LAYOUT"/blobs/sha256/* | tail -1 | cut -f1)
nlayers=$("$PY" -c 'import json,sys;d=json.load(open(sys.argv[1]+"/index.json"))["manifests"][0]["digest"][7:];print(len(json.load(open(sys.argv[1]+"/blobs/sha256/"+d))["layers"]))' "$LAYOUT")

# ---- a local registry with the image ----
start_registry bench || exit 1
REF=127.0.0.1:$REG_PORT_bench/bench/debian:minbase
t0=$(date +%s.%N)
"$REG_TOOL" --scheme http push --layout "$LAYOUT" "$REF" >/dev/null || exit 1
push_s=$(echo "$(date +%s.%N) - $t0" | bc)

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ours_dl=() ours_all=() sk_dl=() sk_all=() pod=()
podman info >/dev/null 2>&1 || { echo "bench/pull: podman cannot run (podman info fails)" >&2; exit 1; }
# podman with storage of its own, emptied before each run (cold, like ours).
P() { podman --root "$T_TMP/podroot" --runroot "$T_TMP/podrun" --storage-driver overlay "$@"; }
for i in $(seq "$RUNS"); do
    rm -rf "$T_TMP/data" "$T_TMP/sk" "$T_TMP/bundle"
    P rmi -a -f >/dev/null 2>&1
    rm -rf "$T_TMP/podroot" "$T_TMP/podrun"
    sync
    out=$("$REG_TOOL" --scheme http pull --root "$T_TMP/data" --progress none --unpack "$REF") || exit 1
    ours_dl+=("$(printf '%s\n' "$out" | awk '/^layers/ {print $NF}')")
    ours_all+=("$(printf '%s\n' "$out" | awk '/^snapshot/ {print $NF}')")
    sync
    t0=$(now)
    P pull -q --tls-verify=false "$REF" >/dev/null || exit 1
    pod+=("$(echo "$(now) - $t0" | bc)")
    sync
    t0=$(now)
    skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$REF" "oci:$T_TMP/sk:bench" >/dev/null || exit 1
    t1=$(now)
    umoci unpack --image "$T_TMP/sk:bench" "$T_TMP/bundle" >/dev/null 2>&1 || exit 1
    t2=$(now)
    sk_dl+=("$(echo "$t1 - $t0" | bc)")
    sk_all+=("$(echo "$t2 - $t0" | bc)")
done
P rmi -a -f >/dev/null 2>&1
rm -rf "$T_TMP/podroot" "$T_TMP/podrun"
rm -rf "$T_TMP/data" "$T_TMP/sk" "$T_TMP/bundle"

o_dl=$(median "${ours_dl[@]}"); o_all=$(median "${ours_all[@]}")
s_dl=$(median "${sk_dl[@]}"); s_all=$(median "${sk_all[@]}")
ratio() { echo "scale=2; $1 / $2" | bc; }
r2() { printf '%.2f' "$1"; }
o_dl=$(r2 "$o_dl"); o_all=$(r2 "$o_all"); s_dl=$(r2 "$s_dl"); s_all=$(r2 "$s_all"); push_s=$(r2 "$push_s")
mb=$(echo "scale=1; $compressed / 1048576" | bc)
p=$(r2 "$(median "${pod[@]}")")
report=$(cat <<MD
Image: debootstrap --variant=minbase --include=$INCLUDE (bookworm), $nlayers gzip layers,
$mb MiB compressed, served by docker-registry on 127.0.0.1; destination empty
before each run; median of $RUNS runs; $(nproc) cores; $(date -u +%Y-%m-%d).

| step | ours (ctr-registry) | podman pull | ratio | skopeo copy (+ umoci unpack) | ratio |
| --- | --- | --- | --- | --- | --- |
| download + verify | ${o_dl} s | — | — | ${s_dl} s | $(ratio "$s_dl" "$o_dl")x |
| to a runnable state | ${o_all} s | ${p} s | **$(ratio "$p" "$o_all")x** | ${s_all} s | $(ratio "$s_all" "$o_all")x |

Runnable state: ours = verified blobs + the store's ext4 snapshot (what a VM boots);
podman = layers extracted into its overlay storage (what \`podman run\` mounts);
skopeo + umoci = an OCI layout, then a bundle directory. Ratio = their time / ours.
Push of the same image by ctr-registry to the empty registry: ${push_s} s.
Ours: ctr-registry pull --unpack (3 parallel layer downloads, sha256 while streaming,
then the ext4 snapshot). podman: \`podman pull\` with its own \`--root\`/\`--runroot\`
(overlay driver), emptied before each run. The host is shared: absolute times vary
from run to run with other load, the ratios less so.
MD
)
echo "$report"

if [ "$RECORD" = 1 ]; then
    "$PY" - "$TOP/docs/performance.md" "$report" <<'PY'
import os, re, sys
path, body = sys.argv[1], sys.argv[2]
text = open(path).read() if os.path.exists(path) else "# Performance\n"
section = "## Pull (bench/pull)\n\nRun with `bench/pull/run.sh --record`.\n\n" + body.strip() + "\n"
pat = re.compile(r"^## Pull \(bench/pull\)\n.*?(?=^## |\Z)", re.S | re.M)
if pat.search(text):
    text = pat.sub(lambda m: section + "\n", text)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
    echo "recorded in docs/performance.md" >&2
fi
