#!/usr/bin/env bash
# Healthchecks (issue 13, src/daemon/health.c; moby daemon/health.go is the model):
# Config.Healthcheck checked with Docker's 400s, shown in inspect; a running container's
# check goes starting → unhealthy → healthy (State.Health, its Log, the health_status
# events, docker ps's status and health filter); a timeout kills the check (-1, Docker's
# words); --no-healthcheck shows no Health; docker-compose's condition service_healthy.
# VMs: busybox, h1 and h2 (a second one for the timeout), then two compose services.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
need_docker_cli
daemon_fixtures
daemon_start || need "the daemon did not start"
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>&1; }
is_health() { [ "$(health "$1")" = "$2" ]; }

# ---- the request's checks: moby's words ----
body=$(api POST /containers/create '{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Interval":100}}')
check_eq "Interval under 1 ms: 400" "400 Interval in Healthcheck cannot be less than 1ms" \
    "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Timeout":-1}}')
check_eq "a negative Timeout: 400" "400 Timeout in Healthcheck cannot be less than 1ms" \
    "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Retries":-1}}')
check_eq "negative Retries: 400" "400 Retries in Healthcheck cannot be negative" \
    "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","Healthcheck":{"Test":"true"}}')
check_eq "Test not a list: 400" "400" "$(code)"
body=$(api GET '/containers/json?filters=%7B%22health%22%3A%5B%22bogus%22%5D%7D')
check_eq "health filter with an unknown value: 400" "400 Unrecognised filter value for health: bogus" \
    "$(code) $(jq -r .message <<<"$body")"

# ---- --no-healthcheck: Test NONE, no State.Health ----
docker create --name h0 --no-healthcheck busybox true >/dev/null
check_eq "--no-healthcheck: Config.Healthcheck.Test NONE, no State.Health" '["NONE"] null' \
    "$(state h0 '.Config.Healthcheck.Test | tojson') $(state h0 .State.Health)"
docker rm h0 >/dev/null

# ---- h1: starting → unhealthy → healthy ----
docker events --filter container=h1 --format '{{.Action}}' >"$T_TMP/events" 2>&1 &
events_pid=$!
at_exit "kill $events_pid 2>/dev/null"
out=$(timeout 120 docker run -d --name h1 --health-cmd 'test -f /tmp/ok' --health-interval 1s \
    --health-retries 2 busybox sleep 3600 2>&1)
check_eq "docker run -d with --health-cmd" "0" "$?"
check_eq "Config.Healthcheck as given" '{"Interval":1000000000,"Retries":2,"Test":["CMD-SHELL","test -f /tmp/ok"]}' \
    "$(state h1 '.Config.Healthcheck | {Interval, Retries, Test} | tojson')"
check_eq "first: starting" "starting" "$(health h1)"
check_contains "docker ps: (health: starting)" "$(docker ps --filter name=h1 --format '{{.Status}}')" "(health: starting)"
wait_for 90 is_health h1 unhealthy
check_eq "then unhealthy (2 failures)" "unhealthy" "$(health h1)"
check_eq "  FailingStreak >= 2, the last check exited 1" "yes 1" \
    "$(state h1 '[(.State.Health.FailingStreak >= 2 | if . then "yes" else "no" end), .State.Health.Log[-1].ExitCode] | join(" ")')"
check_contains "docker ps: (unhealthy)" "$(docker ps --filter name=h1 --format '{{.Status}}')" "(unhealthy)"
check_eq "the health=unhealthy filter lists it" "h1" "$(docker ps --filter health=unhealthy --format '{{.Names}}')"
check_eq "the health=healthy filter does not" "" "$(docker ps --filter health=healthy --format '{{.Names}}')"
docker exec h1 touch /tmp/ok
wait_for 60 is_health h1 healthy
check_eq "after touch /tmp/ok: healthy" "healthy" "$(health h1)"
check_eq "  FailingStreak 0, the last check exited 0, at most 5 kept, Start/End set" "0 0 yes yes" \
    "$(state h1 '[.State.Health.FailingStreak, .State.Health.Log[-1].ExitCode, (.State.Health.Log | length <= 5 | if . then "yes" else "no" end), (.State.Health.Log[-1] | .Start < .End | if . then "yes" else "no" end)] | join(" ")')"
check_contains "docker ps: (healthy)" "$(docker ps --filter name=h1 --format '{{.Status}}')" "(healthy)"
check_eq "the health=healthy filter lists it" "h1" "$(docker ps --filter health=healthy --format '{{.Names}}')"
out=$(/usr/bin/python3 - 2>&1 <<'PY'
import docker
cl = docker.from_env()
c = cl.containers.get("h1")
print(c.attrs["State"]["Health"]["Status"], [x.name for x in cl.containers.list(filters={"health": "healthy"})],
      len(cl.containers.list(filters={"health": "starting"})))
PY
)
check_eq "python docker: State.Health, the health filter" "healthy ['h1'] 0" "$out"
wait_for 10 grep -qx 'health_status: healthy' "$T_TMP/events"
check_eq "events: health_status: unhealthy, then healthy" "health_status: unhealthy,health_status: healthy" \
    "$(grep '^health_status' "$T_TMP/events" | paste -sd,)"
timeout 60 docker stop -t 1 h1 >/dev/null
n0=$(state h1 '.State.Health.Log[-1].End')
sleep 3
check_eq "no check once it stopped" "$n0" "$(state h1 '.State.Health.Log[-1].End')"
check_eq "a stopped container keeps its last health (ps -a --filter health=healthy)" "h1" \
    "$(docker ps -a --filter health=healthy --format '{{.Names}}')"
check_eq "  and health=none leaves it out" "" "$(docker ps -a --filter health=none --format '{{.Names}}')"
docker rm h1 >/dev/null

# ---- h2: a check past its timeout is killed and fails (-1, Docker's words) ----
out=$(timeout 120 docker run -d --name h2 --health-cmd 'sleep 30' --health-interval 1s \
    --health-timeout 1s --health-retries 1 busybox sleep 3600 2>&1)
check_eq "docker run -d h2" "0" "$?"
wait_for 90 is_health h2 unhealthy
check_eq "timeout: unhealthy, ExitCode -1, the message" "unhealthy -1 Health check exceeded timeout (1s)" \
    "$(state h2 '[.State.Health.Status, .State.Health.Log[0].ExitCode, .State.Health.Log[0].Output] | join(" ")')"
docker rm -f h2 >/dev/null

# ---- docker-compose: depends_on condition service_healthy ----
if ! command -v docker-compose >/dev/null; then
    skip "docker-compose missing (apt-get install --no-install-recommends docker-compose)"
else
    P=$T_TMP/proj
    mkdir -p "$P"
    cat >"$P/docker-compose.yml" <<'EOF'
version: "2.4"
services:
  db:
    image: busybox
    command: ["sh", "-c", "sleep 2; touch /tmp/up; exec sleep 3600"]
    mem_limit: 256m
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/up"]
      interval: 1s
      retries: 30
  app:
    image: busybox
    command: ["sleep", "3600"]
    mem_limit: 256m
    depends_on:
      db:
        condition: service_healthy
EOF
    cd "$P" || exit 1
    T0=$(date +%s)
    out=$(timeout 600 docker-compose -p chl up -d 2>&1)
    rc=$?
    check_eq "docker-compose up -d (app waits for db healthy)" "0" "$rc"
    [ "$rc" = 0 ] || diag "$out"
    check_eq "  db is healthy, app runs" "healthy running" \
        "$(health chl_db_1) $(docker inspect -f '{{.State.Status}}' chl_app_1 2>&1)"
    evs=$(docker events --since "$T0" --until "$(($(date +%s) + 2))" --format '{{.Actor.Attributes.name}} {{.Action}}' 2>&1 |
        grep -E '^(chl_db_1 health_status: healthy|chl_app_1 start)$' | paste -sd,)
    check_eq "  app started after db became healthy (events)" "chl_db_1 health_status: healthy,chl_app_1 start" "$evs"
    out=$(timeout 300 docker-compose -p chl down -t 1 2>&1)
    check_eq "docker-compose down" "0" "$?"
    cd / || exit 1
fi
check_eq "the daemon logged no lock order violation" "" "$(grep 'lock order violated' "$T_TMP/daemon.log")"
plan_end
