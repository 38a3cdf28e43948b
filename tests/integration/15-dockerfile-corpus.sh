#!/bin/bash
# `container build --dump-instructions` over the Dockerfile corpus (tests/fixtures/
# dockerfiles, docs/build.md): each NAME.Dockerfile must print NAME.expected exactly, or
# fail with exit 1 and "container: " + NAME.error. Also the CLI's own paths: -f FILE,
# CONTEXT/Dockerfile, a missing file, and `build` without --dump-instructions (not
# implemented: must fail, never pretend). Boots no VM. BUILD=build-asan for the ASan CLI.
source "$(dirname "$0")/../lib.sh"
plan_start
CTR=$BIN/container
[ -x "$CTR" ] || need "$CTR is not built"
CORPUS=$TOP/tests/fixtures/dockerfiles

n=0
for df in "$CORPUS"/*.Dockerfile; do
    name=$(basename "$df" .Dockerfile)
    n=$((n + 1))
    out=$("$CTR" build --dump-instructions -f - <"$df" 2>"$T_TMP/err")
    rc=$?
    err=$(cat "$T_TMP/err")
    if [ -f "$CORPUS/$name.expected" ]; then
        if [ "$rc" = 0 ] && [ -z "$err" ] && [ "$out" == "$(cat "$CORPUS/$name.expected")" ]; then
            ok "corpus $name"
        else
            not_ok "corpus $name (exit $rc)"
            diff -u --label "$name.expected" --label got "$CORPUS/$name.expected" <(printf '%s\n' "$out") | sed 's/^/#   /'
            [ -n "$err" ] && diag "stderr: $err"
        fi
    elif [ -f "$CORPUS/$name.error" ]; then
        want="container: $(cat "$CORPUS/$name.error")"
        if [ "$rc" = 1 ] && [ -z "$out" ] && [ "$err" == "$want" ]; then
            ok "corpus $name fails"
        else
            not_ok "corpus $name fails (exit $rc)"
            diag "want: $want" "got:  $err" "stdout: $out"
        fi
    else
        not_ok "corpus $name has a .expected or a .error"
    fi
done
check "the corpus has at least 40 files ($n)" test "$n" -ge 40

# -f FILE names the file in messages; CONTEXT/Dockerfile is the default
mkdir -p "$T_TMP/ctx"
printf 'FROM alpine\nRUNN x\n' >"$T_TMP/ctx/Dockerfile"
err=$("$CTR" build --dump-instructions "$T_TMP/ctx" 2>&1 >/dev/null)
check_eq "CONTEXT/Dockerfile is read and named in the error" \
    "container: $T_TMP/ctx/Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)" "$err"
printf 'FROM alpine\nCMD ["x"]\n' >"$T_TMP/other.df"
out=$("$CTR" build --dump-instructions -f "$T_TMP/other.df" "$T_TMP/ctx")
check_eq "-f FILE wins over CONTEXT/Dockerfile" \
    '{"line": 2, "cmd": "cmd", "flags": [], "args": ["x"], "json": true, "heredocs": []}' \
    "$(tail -1 <<<"$out")"
err=$("$CTR" build --dump-instructions -f "$T_TMP/nope" 2>&1)
rc=$?
check_eq "a missing Dockerfile fails with 1" 1 "$rc"
check_contains "a missing Dockerfile is named" "$err" "cannot read the Dockerfile \`$T_TMP/nope\`"

# no executor yet: never pretend
err=$("$CTR" build "$T_TMP/ctx" 2>&1)
rc=$?
check_eq "build without --dump-instructions fails" 1 "$rc"
check_contains "build says it is not implemented" "$err" "building images is not implemented yet"
out=$("$CTR" build --help)
check_contains "build --help lists --dump-instructions" "$out" "--dump-instructions"
plan_end
