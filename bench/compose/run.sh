#!/usr/bin/env bash
# bench/compose/run.sh [N]
#
# A 3-service stack from the Compose stacks' image (tests/fixtures/stack-image.sh): redis,
# a Python web counter on it, nginx in front of the web, each with a health probe, each
# waiting for the one before it to be healthy. Timed two ways, N rounds interleaved (the
# same load on the shared cores), one VM per service (256 MiB, 1 vCPU):
#   compose: `docker-compose up -d` of the file (healthcheck: every 0.5 s, depends_on:
#            condition: service_healthy), until the API says every service is healthy;
#   cli:     the same services started one by one with our CLI (`container network
#            create`, then per service `container run -d`, then its probe run with
#            `container exec` every 0.5 s until it passes) — the CLI has no --health-*
#            flags, so the CLI half runs the same probe the healthcheck runs.
# Prints the medians side by side and their ratio:
#   compose_up_healthy_median_s=X.XXX
#   cli_run_healthy_median_s=X.XXX
#   ratio=X.XXX  (compose / cli)
# Each round ends with `docker-compose down` / `container rm -f` + `network rm` (untimed).
# The last round's timelines go to stderr: compose's from the daemon's events (create,
# start, health_status), the CLI's from the script's own clock.
# The daemon runs in a network namespace of its own (tests/lib.sh, 40-daemon-lib.bash).
# Environment: BUILD (default <repo>/build), CTR_KERNEL, CTR_CACHE as for the tests.
set -uo pipefail
n=${1:-3}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N]  (N >= 1 rounds)" >&2; exit 2; }
TOP=$(cd "$(dirname "$0")/../.." && pwd)
source "$TOP/tests/lib.sh"
source "$TOP/tests/integration/40-daemon-lib.bash"
die() { echo "bench/compose: $*" >&2; exit 1; }
need() { die "$1"; }
for tool in docker docker-compose; do
    command -v "$tool" >/dev/null || die "missing $tool (apt-get install docker.io docker-compose)"
done
C="$BIN/container"
[ -x "$C" ] || die "\`$C\` not built; run make"
daemon_fixtures
IMG=$("$TOP/tests/fixtures/stack-image.sh") || die "tests/fixtures/stack-image.sh failed"
daemon_start || die "the daemon did not start"
export COMPOSE_HTTP_TIMEOUT=600
ctr() { "$C" --socket "$SOCK" "$@"; }
timeout 600 docker load -i "$IMG" >/dev/null || die "docker load of $IMG failed"

W=$T_TMP/stack
mkdir -p "$W/app"
cat >"$W/app/app.py" <<'EOF'
import http.server, socket
import redis
r = redis.Redis(host="redis", port=6379)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s: %d\n" % (socket.gethostname(), r.incr("hits"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("", 8000), H).serve_forever()
EOF
cat >"$W/nginx.conf" <<'EOF'
worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr;
events { worker_connections 64; }
http {
    access_log off;
    server { listen 80; location / { proxy_pass http://web:8000; } }
}
EOF
# The services: name, probe, command (one line each, `|` between).
REDIS_CMD=(redis-server --save "" --appendonly no --protected-mode no)
REDIS_PROBE=(redis-cli ping)
WEB_CMD=(python3 /app/app.py)
WEB_PROBE=(wget -q -O /dev/null http://127.0.0.1:8000/)
PROXY_CMD=(nginx -c /etc/nginx/bench.conf -g "daemon off;")
PROXY_PROBE=(wget -q -O /dev/null http://127.0.0.1/)
jl() { jq -cn '$ARGS.positional' --args -- "$@"; }
cat >"$W/docker-compose.yml" <<EOF
version: "2.4"
services:
  redis:
    image: ctr-stack
    command: $(jl "${REDIS_CMD[@]}")
    healthcheck: {test: $(jl CMD "${REDIS_PROBE[@]}"), interval: 500ms, timeout: 10s, retries: 600}
  web:
    image: ctr-stack
    command: $(jl "${WEB_CMD[@]}")
    volumes: ["./app:/app:ro"]
    healthcheck: {test: $(jl CMD "${WEB_PROBE[@]}"), interval: 500ms, timeout: 10s, retries: 600}
    depends_on: {redis: {condition: service_healthy}}
  proxy:
    image: ctr-stack
    command: $(jl "${PROXY_CMD[@]}")
    volumes: ["./nginx.conf:/etc/nginx/bench.conf:ro"]
    ports: ["80"]
    healthcheck: {test: $(jl CMD "${PROXY_PROBE[@]}"), interval: 500ms, timeout: 10s, retries: 600}
    depends_on: {web: {condition: service_healthy}}
EOF

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
healthy() { # CONTAINER...: all healthy (API)
    local c
    for c in "$@"; do
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$c" 2>/dev/null)" = healthy ] || return 1
    done
}
poll() { # SECONDS CMD...: CMD every 0.5 s until it succeeds
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.5
    done
}
compose_round() {
    local t0
    t0=$(now)
    (cd "$W" && timeout 900 docker-compose -p bc up -d) >"$T_TMP/compose.out" 2>&1 ||
        { cat "$T_TMP/compose.out" >&2; die "docker-compose up -d failed"; }
    poll 600 healthy bc_redis_1 bc_web_1 bc_proxy_1 || die "compose: not every service became healthy"
    elapsed "$t0"
    # the round's timeline from the daemon's events (probes' exec events left out)
    docker events --since "${t0%.*}" --until "$((${EPOCHREALTIME%.*} + 1))" --filter type=container \
        --format '{{.TimeNano}} {{.Actor.Attributes.name}} {{.Action}}' 2>/dev/null |
        grep ' bc_' | grep -v ' exec_' | awk -v t0="$t0" '{ $1 = sprintf("%7.3f", $1 / 1e9 - t0); print "#   " $0 }' \
        >"$T_TMP/compose.timeline"
    (cd "$W" && timeout 600 docker-compose -p bc down -t 1) >/dev/null 2>&1 || die "docker-compose down failed"
}
cli_round() {
    local t0 s
    t0=$(now)
    : >"$T_TMP/cli.timeline"
    mark() { echo "#   $(elapsed "$t0") $*" >>"$T_TMP/cli.timeline"; }
    ctr network create bcli >/dev/null || die "container network create failed"
    mark "network created"
    ctr run -d --name bcli-redis -c 1 -m 256m --network bcli --network-alias redis ctr-stack \
        "${REDIS_CMD[@]}" >/dev/null || die "container run redis failed"
    mark "bcli-redis run returned"
    poll 600 ctr exec bcli-redis "${REDIS_PROBE[@]}" || die "cli: redis never answered its probe"
    mark "bcli-redis healthy (probe passed)"
    ctr run -d --name bcli-web -c 1 -m 256m --network bcli --network-alias web -v "$W/app:/app:ro" \
        ctr-stack "${WEB_CMD[@]}" >/dev/null || die "container run web failed"
    mark "bcli-web run returned"
    poll 600 ctr exec bcli-web "${WEB_PROBE[@]}" || die "cli: web never answered its probe"
    mark "bcli-web healthy (probe passed)"
    ctr run -d --name bcli-proxy -c 1 -m 256m --network bcli --network-alias proxy -p 80 \
        -v "$W/nginx.conf:/etc/nginx/bench.conf:ro" ctr-stack "${PROXY_CMD[@]}" >/dev/null ||
        die "container run proxy failed"
    mark "bcli-proxy run returned"
    poll 600 ctr exec bcli-proxy "${PROXY_PROBE[@]}" || die "cli: proxy never answered its probe"
    mark "bcli-proxy healthy (probe passed)"
    elapsed "$t0"
    for s in redis web proxy; do ctr rm -f "bcli-$s" >/dev/null 2>&1; done
    ctr network rm bcli >/dev/null 2>&1 || die "container network rm failed"
}

# An untimed first round of each: the image's ext4 snapshot and the warm-start templates
# of the VM shape are made once, as on any machine after its first run.
compose_round >/dev/null
cli_round >/dev/null
comp=()
cli=()
for i in $(seq 1 "$n"); do
    a=$(compose_round)
    b=$(cli_round)
    printf '# round %d: compose up -d until healthy %s s, container run one by one until healthy %s s\n' \
        "$i" "$a" "$b" >&2
    comp+=("$a")
    cli+=("$b")
done
echo "# the last round's timelines (s from the start):" >&2
echo "# compose (daemon events):" >&2
cat "$T_TMP/compose.timeline" >&2
echo "# cli:" >&2
cat "$T_TMP/cli.timeline" >&2
median() { sort -n | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cm=$(printf '%s\n' "${comp[@]}" | median)
lm=$(printf '%s\n' "${cli[@]}" | median)
echo "# $n rounds, $(nproc) cores, load: $(uptime | sed 's/.*load average: //')"
echo "compose_up_healthy_median_s=$cm"
echo "cli_run_healthy_median_s=$lm"
awk -v c="$cm" -v l="$lm" 'BEGIN { printf "ratio=%.3f (compose / cli)\n", c / l }'
