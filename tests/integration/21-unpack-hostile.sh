#!/bin/bash
# Unpack with hostile and broken layers: entries aiming outside the root
# (`../..`, absolute names, symlinked parents, hard links to `../x`) land
# inside the image and nothing on the host changes; truncated tars, corrupt
# gzip/zstd, bad hard links and long names are refused with the layer and the
# entry named, and no image (nor temp file) is left behind.
source "$(dirname "$0")/../lib.sh"
plan_start

U=$BIN/container-unpack
FX=$T_TMP/fx
TOKEN=$$-$RANDOM
if ! python3 "$TOP/tests/fixtures/make-layers-hostile.py" "$FX" "$TOKEN" > "$T_TMP/gen.log" 2>&1; then
    not_ok "hostile fixtures generated"
    sed 's/^/#   /' "$T_TMP/gen.log"
    plan_end
    exit 1
fi
ok "hostile fixtures generated"

# Run from deep inside a scratch tree, so relative escapes have somewhere to go.
work=$T_TMP/w/a/b/c
mkdir -p "$work" "$T_TMP/out"
snapshot() { find "$T_TMP/w" -xdev -printf '%p %y %s %T@\n' | LC_ALL=C sort; }
before=$(snapshot)
if (cd "$work" && "$U" -o "$T_TMP/out/hostile.ext4" "$FX/hostile.tar") 2> "$T_TMP/h.err"; then
    ok "the hostile layer unpacks"
else
    not_ok "the hostile layer unpacks"
    sed 's/^/#   /' "$T_TMP/h.err"
fi
after=$(snapshot)
check_eq "the tree around the working directory is unchanged" "" \
    "$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after"))"
# where `../..`, `/abs` and the symlinks `a -> /`, `up -> ../../tmp` would lead on the host
leaked=$(ls -d /tmp/*"$TOKEN"* /*"$TOKEN"* "$T_TMP"/*"$TOKEN"* 2> /dev/null)
check_eq "no file named by the hostile entries exists on the host" "" "$leaked"
check "e2fsck -fn accepts the hostile image" e2fsck -fn "$T_TMP/out/hostile.ext4"
got=$("$U" --list "$T_TMP/out/hostile.ext4" | sed -E 's/^(d [0-7]{4} [0-9]+:[0-9]+) [0-9]+ /\1 - /')
check_eq "every hostile entry landed inside the image root" "$(cat "$FX/hostile.expected")" "$got"

# refused: each error names the layer and the entry; no image, no temp file
refuse() { # DESC LAYER NEEDLE...
    local desc=$1 layer=$2 out=$T_TMP/out/bad.ext4 msg rc=0
    shift 2
    msg=$("$U" -o "$out" "$FX/$layer" 2>&1) || rc=$?
    local missing=()
    for n in "$@"; do [[ $msg == *"$n"* ]] || missing+=("$n"); done
    if [ "$rc" -ne 0 ] && [ ${#missing[@]} -eq 0 ] && [ -z "$(ls "$T_TMP/out" | grep -v '^hostile.ext4$')" ]; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "exit $rc, message: $msg" "missing: ${missing[*]}" "left: $(ls "$T_TMP/out")"
    fi
}
refuse "a hard link to a missing target is refused" missing-link.tar \
    "layer \`missing-link.tar\`" "entry \`hl\`" "does not exist"
refuse "a 256-byte name is refused" longname.tar "layer \`longname.tar\`" "entry \`d/nnnn" "255"
refuse "a tar cut inside a file's data is refused" trunc.tar "layer \`trunc.tar\`" "entry \`big\`" \
    "Truncated"
refuse "a tar cut inside a header is refused" trunc-header.tar "layer \`trunc-header.tar\`" \
    "after entry \`first\`" "Truncated"
refuse "a corrupt gzip stream is refused" corrupt.tar.gz "layer \`corrupt.tar.gz\`" "entry \`"
refuse "a corrupt zstd stream is refused" corrupt.tar.zst "layer \`corrupt.tar.zst\`" "entry \`"
refuse "random bytes are refused" notatar.bin "layer \`notatar.bin\`" "first entry"
# a good layer followed by a bad one: still nothing left
msg=$("$U" -o "$T_TMP/out/two.ext4" "$FX/hostile.tar" "$FX/trunc.tar" 2>&1)
check_eq "a bad second layer leaves no image either" "hostile.ext4" "$(ls "$T_TMP/out")"
check_contains "… and its error names the second layer" "$msg" "layer \`trunc.tar\`"
# a wrong media type is refused before anything is written
msg=$("$U" -o "$T_TMP/out/mt.ext4" "$FX/hostile.tar:application/vnd.oci.image.layer.v1.tar+zstd" 2>&1)
check_contains "a media type that does not match the data is refused" "$msg" \
    "media type says zstd but the data is plain tar"
check_eq "… leaving nothing" "hostile.ext4" "$(ls "$T_TMP/out")"

plan_end
