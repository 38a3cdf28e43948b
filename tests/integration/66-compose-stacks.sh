#!/usr/bin/env bash
# Three ordinary Compose stacks with real servers (issue 13), driven by Debian's
# docker-compose 1.29 against our daemon, from the Debian-built image of
# tests/fixtures/stack-image.sh (redis, nginx, postgres, python3; loaded with `docker load`):
#   sa (2.4): a Python web counter (a bind-mounted app) on redis: `ports:`, `healthcheck:` +
#       `depends_on: condition: service_healthy`, `restart: always` (redis shut down from
#       inside comes back), `run --rm` while up, `pause`/`unpause`, `top`, edit-then-`up`
#       (recreate), `up --scale`, `restart`, hits counted through the published ports
#       from the daemon's namespace, `down -v`.
#   sb (3): nginx in front of a Python API on two networks (frontend/backend), the API
#       reached by its alias on backend, `links:`, a `profiles:` service on frontend only
#       run with `run --rm` (reaches nginx, not the API), nginx's access log (/dev/stdout)
#       in `logs`, `top`, `down -v`.
#   sc (2.4): postgres with a named volume, `env_file`, a `pg_isready` healthcheck, a
#       client that waits for service_healthy and writes and reads rows; `stop` (postgres
#       shuts down on SIGTERM, exit 0); the rows survive `down` and `up`; `down -v`
#       removes the volume.
# After each `down -v` the API lists no container, network or volume of the project.
# VMs: the stack image, 256 MiB each, at most three at once (+1 for `run`).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
for tool in docker docker-compose; do
    command -v $tool >/dev/null || need "$tool missing (apt-get install docker.io docker-compose)"
done
daemon_fixtures
IMG_LOG=$T_TMP/stack-image.log
IMG=$("$TOP/tests/fixtures/stack-image.sh" 2>"$IMG_LOG")
if [ -z "$IMG" ] || [ ! -f "$IMG" ]; then
    not_ok "the stack image (tests/fixtures/stack-image.sh) was built"
    diag "$(tail -5 "$IMG_LOG")"
    plan_end
    exit 1
fi
daemon_start || need "the daemon did not start"
export COMPOSE_HTTP_TIMEOUT=600
dc() { # PROJECT ARGS...: docker-compose in $P/PROJECT; output in $out, status in $rc
    local p=$1
    shift
    out=$(cd "$P/$p" && timeout 600 docker-compose -p "$p" "$@" 2>&1)
    rc=$?
}
dcok() { # DESC PROJECT ARGS...: dc, checked for status 0 (the output as diagnostics if not)
    local desc=$1
    shift
    dc "$@"
    check_eq "$desc" 0 "$rc"
    [ "$rc" = 0 ] || diag "$(tail -15 <<<"$out")"
}
st() { docker inspect -f "$2" "$1" 2>&1; }
hit() { in_ns curl -s -m "${2:-20}" "http://127.0.0.1:$1${3:-/}" 2>&1; }
port_of() { # PROJECT SERVICE PORT [INDEX]
    (cd "$P/$1" && docker-compose -p "$1" port --index="${4:-1}" "$2" "$3" 2>/dev/null) | sed -n 's/.*://p'
}
# nothing_left PROJECT: the API lists no container, network or volume labelled with it
nothing_left() {
    local f
    f=$(jq -rn --arg p "$1" '{label: ["com.docker.compose.project=" + $p]} | tojson | @uri')
    echo "$(api GET "/containers/json?all=1&filters=$f" | jq length)" \
        "$(api GET "/networks?filters=$f" | jq length)" \
        "$(api GET "/volumes?filters=$f" | jq '.Volumes | length')"
}
P=$T_TMP/p
mkdir -p "$P"

t0=$SECONDS
out=$(timeout 600 docker load -i "$IMG" 2>&1)
check_contains "docker load of the stack image" "$out" "ctr-stack:latest"
diag "docker load: $((SECONDS - t0)) s, $(du -h "$IMG" | cut -f1)"

# ================= sa: web counter on redis =================
mkdir -p "$P/sa/app"
cat >"$P/sa/app/app.py" <<'EOF'
import http.server, os, socket
import redis
r = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), port=6379)
GREETING = os.environ.get("GREETING", "hello")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = r.incr("hits")
        body = ("%s from %s: %d\n" % (GREETING, socket.gethostname(), n)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)
http.server.ThreadingHTTPServer(("", 8000), H).serve_forever()
EOF
sa_yml() { # GREETING
    cat >"$P/sa/docker-compose.yml" <<EOF
version: "2.4"
services:
  redis:
    image: ctr-stack
    command: ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
    restart: always
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      timeout: 5s
      retries: 60
  web:
    image: ctr-stack
    command: ["python3", "/app/app.py"]
    working_dir: /app
    environment:
      GREETING: "$1"
      REDIS_HOST: redis
    volumes:
      - ./app:/app:ro
    ports: ["8000"]
    restart: unless-stopped
    depends_on:
      redis:
        condition: service_healthy
EOF
}
sa_yml hello
dcok "sa: docker-compose up -d (web waits for redis healthy)" sa up -d
check_eq "  redis healthy, web running" "healthy running" \
    "$(st sa_redis_1 '{{.State.Health.Status}}') $(st sa_web_1 '{{.State.Status}}')"
PA=$(port_of sa web 8000)
check_eq "  web's port 8000 is published" "yes" "$([ -n "$PA" ] && echo yes || echo "no: $PA")"
web_up() { [[ "$(hit "$PA" 3)" == hello* ]]; }
wait_for 90 web_up
# (web_up's hits counted too)
out=$(hit "$PA")
n=${out##*: }
check_eq "a hit through the published port answers from web's container" "hello from $(st sa_web_1 '{{.Config.Hostname}}'): $n" "$out"
check_contains "  the next counts one more" "$(hit "$PA")" ": $((n + 1))"
dcok "docker-compose run --rm while up" sa run --rm --no-deps web python3 -c \
    'import redis; print("hits=" + redis.Redis("redis").get("hits").decode())'
check_contains "  run reached redis by name and read the counter" "$out" "hits=$((n + 1))"
check_eq "  the run's container is gone" "" "$(docker ps -aq --filter name=sa_web_run)"
check_eq "restart: always is the redis container's policy" "always" "$(st sa_redis_1 '{{.HostConfig.RestartPolicy.Name}}')"
dc sa exec -T redis redis-cli shutdown nosave
redis_back() { [ "$(st sa_redis_1 '{{.RestartCount}} {{.State.Status}}')" = "1 running" ]; }
wait_for 120 redis_back
check_eq "  redis shut down from inside comes back (RestartCount 1)" "1 running" \
    "$(st sa_redis_1 '{{.RestartCount}} {{.State.Status}}')"
redis_answers() { [[ "$(hit "$PA" 3)" == *": 1" ]]; }
wait_for 60 redis_answers
check_contains "  web counts again from 1 (no save)" "$(hit "$PA")" ": 2"
dcok "docker-compose pause redis" sa pause redis
check_eq "  redis is paused" "paused" "$(st sa_redis_1 '{{.State.Status}}')"
out=$(hit "$PA" 4)
check_eq "  web's hit waits on the paused redis (no answer in 4 s)" "" "$out"
dcok "docker-compose unpause redis" sa unpause redis
check_eq "  redis runs again" "running" "$(st sa_redis_1 '{{.State.Status}}')"
check_contains "  hits count again" "$(hit "$PA")" "hello from"
dcok "docker-compose top" sa top
check_contains "  lists redis-server" "$out" "redis-server"
check_contains "  lists web's python3" "$out" "python3 /app/app.py"
check_eq "  redis's top is the container's one process (as docker: not the VM's init or kernel threads)" \
    "redis-server *:6379" "$(api GET /containers/sa_redis_1/top | jq -r '[.Processes[][-1]] | join(",")')"
dcok "docker-compose ps" sa ps
check_contains "  redis is Up (healthy)" "$(grep sa_redis_1 <<<"$out")" "(healthy)"
sa_yml bonjour
dcok "edit the file (GREETING), up -d" sa up -d
check_contains "  web is recreated" "$out" "Recreating sa_web_1"
check_eq "  redis is not recreated" "" "$(grep -o 'Recreating sa_redis_1' <<<"$out")"
PA=$(port_of sa web 8000)
web_new() { [[ "$(hit "$PA" 3)" == bonjour* ]]; }
wait_for 90 web_new
check_contains "  the new web answers with the new greeting" "$(hit "$PA")" "bonjour from"
dcok "up -d --scale web=2" sa up -d --scale web=2
check_eq "  two web containers run" "2" "$(docker ps -q --filter label=com.docker.compose.service=web --filter label=com.docker.compose.project=sa | wc -l)"
PB=$(port_of sa web 8000 2)
web2_up() { [[ "$(hit "$PB" 3)" == bonjour* ]]; }
wait_for 90 web2_up
n1=$(hit "$PA" | sed 's/.*: //')
n2=$(hit "$PB" | sed 's/.*: //')
check_eq "  both replicas count on the one redis (consecutive hits)" "$((n1 + 1))" "$n2"
check_eq "  the replicas have different ports" "yes" "$([ "$PA" != "$PB" ] && [ -n "$PB" ] && echo yes || echo "no: $PA $PB")"
dcok "docker-compose restart web" sa restart -t 5 web
web_back() { [[ "$(hit "$PA" 3)" == bonjour* ]]; }
wait_for 90 web_back
check_eq "  web answers again, the count goes on" "yes" \
    "$(n3=$(hit "$PA" | sed 's/.*: //'); [ "$n3" -gt "$n2" ] 2>/dev/null && echo yes || echo "no: $n3 after $n2")"
dcok "sa: docker-compose down -v" sa down -v -t 1
check_eq "  nothing of sa is left (containers, networks, volumes)" "0 0 0" "$(nothing_left sa)"

# ================= sb: nginx → Python API, two networks =================
mkdir -p "$P/sb"
cat >"$P/sb/api.py" <<'EOF'
import http.server, json, socket
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"service": "api", "path": self.path, "host": socket.gethostname()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", 8000), H).serve_forever()
EOF
cat >"$P/sb/nginx.conf" <<'EOF'
worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr;
events { worker_connections 64; }
http {
    access_log /var/log/nginx/access.log;
    server {
        listen 80;
        location /api/ { proxy_pass http://api-internal:8000; }
        location / { return 200 "proxy\n"; }
    }
}
EOF
cat >"$P/sb/docker-compose.yml" <<'EOF'
version: "3"
services:
  api:
    image: ctr-stack
    command: ["python3", "/srv/api.py"]
    volumes: ["./api.py:/srv/api.py:ro"]
    networks:
      backend:
        aliases: [api-internal]
  proxy:
    image: ctr-stack
    command: ["nginx", "-c", "/etc/nginx/stack.conf", "-g", "daemon off;"]
    volumes: ["./nginx.conf:/etc/nginx/stack.conf:ro"]
    ports: ["8081:80"]
    depends_on: [api]
    networks:
      frontend: {}
      backend: {}
  probe:
    image: ctr-stack
    command: ["sleep", "3600"]
    links: ["api:legacy-api"]
    networks: [backend]
  edge:
    image: ctr-stack
    command: ["sh"]
    profiles: [tools]
    networks: [frontend]
networks:
  frontend: {}
  backend: {}
EOF
dcok "sb: docker-compose up -d (version 3, two networks)" sb up -d
check_eq "  proxy is on frontend and backend" "sb_backend sb_frontend" \
    "$(docker inspect sb_proxy_1 2>&1 | jq -r '.[0].NetworkSettings.Networks | keys | join(" ")')"
check_contains "  api's backend aliases include api-internal" \
    "$(docker inspect sb_api_1 2>&1 | jq -c '.[0].NetworkSettings.Networks.sb_backend.Aliases')" '"api-internal"'
proxy_up() { [ "$(hit 8081 3 /)" = proxy ]; }
wait_for 90 proxy_up
api_up() { [[ "$(hit 8081 3 /api/x)" == *'"service": "api"'* ]]; }
wait_for 60 api_up
out=$(hit 8081 20 /api/hello)
check_eq "nginx reaches the API by its alias (through the published port)" "api /api/hello $(st sb_api_1 '{{.Config.Hostname}}')" \
    "$(jq -r '[.service, .path, .host] | join(" ")' <<<"$out" 2>&1)"
dc sb exec -T probe sh -c 'grep -w legacy-api /etc/hosts; wget -q -O - http://legacy-api:8000/linked'
check_contains "links: probe reaches api as legacy-api" "$out" '"path": "/linked"'
check_eq "  a profile's service (edge) is not started by up" "" "$(docker ps -aq --filter name=sb_edge)"
dc sb run --rm edge sh -c 'wget -q -O - http://proxy/; nslookup api-internal >/dev/null 2>&1 && echo api-internal-resolves; wget -q -T 5 -O - http://api:8000/ 2>&1 || echo no-api'
check_eq "run --rm edge (frontend only) reaches the proxy by name" "1" "$(grep -cx proxy <<<"$out")"
check_contains "  but not the API on backend" "$out" "no-api"
check_eq "  and does not resolve the backend alias" "" "$(grep -o api-internal-resolves <<<"$out")"
dcok "docker-compose logs proxy" sb logs --no-color proxy
check_contains "  nginx's access log (/dev/stdout) is in the logs" "$out" '"GET /api/hello HTTP/1.1" 200'
dcok "docker-compose top proxy" sb top proxy
check_contains "  lists nginx's master" "$out" "nginx: master process"
check_contains "  lists nginx's worker" "$out" "nginx: worker process"
check_eq "  and nothing else (docker: the container's processes only)" "2" \
    "$(api GET /containers/sb_proxy_1/top | jq '.Processes | length')"
dcok "sb: docker-compose down -v" sb down -v -t 1
check_eq "  nothing of sb is left" "0 0 0" "$(nothing_left sb)"
check_eq "  port 8081 is free again" "" "$(hit 8081 3 /)"

# ================= sc: postgres, named volume, env_file, pg_isready =================
mkdir -p "$P/sc"
cat >"$P/sc/db.env" <<'EOF'
# the database's credentials, shared by db and client
POSTGRES_USER=app
POSTGRES_PASSWORD=s3cret
POSTGRES_DB=appdb
EOF
cat >"$P/sc/pg-start.sh" <<'EOF'
#!/bin/sh
# postgres as the official image starts it, the short way: initdb into the volume once
set -e
D=/var/lib/postgresql/data
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p /run/postgresql
chown postgres:postgres "$D" /run/postgresql
chmod 700 "$D"
if [ ! -s "$D/PG_VERSION" ]; then
    echo "$POSTGRES_PASSWORD" >/tmp/pw
    chown postgres /tmp/pw
    as_pg "$PGBIN/initdb" -D "$D" -U "$POSTGRES_USER" --pwfile=/tmp/pw -A scram-sha-256 \
        --auth-local=trust -N
    rm /tmp/pw
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$D/pg_hba.conf"
    echo "CREATE DATABASE \"$POSTGRES_DB\";" | as_pg "$PGBIN/postgres" --single -D "$D" postgres >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/postgres" -D "$D" \
    -c listen_addresses='*' -c shared_buffers=16MB -c max_connections=20
EOF
chmod +x "$P/sc/pg-start.sh"
cat >"$P/sc/client.py" <<'EOF'
import os, psycopg2
c = psycopg2.connect(host="db", user=os.environ["POSTGRES_USER"],
                     password=os.environ["POSTGRES_PASSWORD"], dbname=os.environ["POSTGRES_DB"])
cur = c.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
cur.execute("INSERT INTO visits DEFAULT VALUES")
c.commit()
cur.execute("SELECT count(*) FROM visits")
print("rows=%d" % cur.fetchone()[0], flush=True)
EOF
cat >"$P/sc/docker-compose.yml" <<'EOF'
version: "2.4"
services:
  db:
    image: ctr-stack
    command: ["/pg-start.sh"]
    env_file: db.env
    volumes:
      - pgdata:/var/lib/postgresql/data
      - ./pg-start.sh:/pg-start.sh:ro
    mem_limit: 256m
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d appdb"]
      interval: 2s
      timeout: 10s
      retries: 150
  client:
    image: ctr-stack
    command: ["python3", "/client.py"]
    env_file: db.env
    volumes: ["./client.py:/client.py:ro"]
    mem_limit: 256m
    depends_on:
      db:
        condition: service_healthy
volumes:
  pgdata: {}
EOF
t0=$SECONDS
dcok "sc: docker-compose up -d (client waits for postgres healthy)" sc up -d
diag "sc: up -d took $((SECONDS - t0)) s (initdb in the VM included)"
check_eq "  env_file: db's Env has the file's variables" "app appdb" \
    "$(docker inspect sc_db_1 2>&1 | jq -r '.[0].Config.Env | map(select(startswith("POSTGRES_USER=") or startswith("POSTGRES_DB=")) | sub(".*="; "")) | join(" ")')"
check_eq "  db is healthy" "healthy" "$(st sc_db_1 '{{.State.Health.Status}}')"
client_done() { [ "$(st sc_client_1 '{{.State.Status}}')" = exited ]; }
wait_for 120 client_done
check_eq "  the client wrote and read a row, exit 0" "0" "$(st sc_client_1 '{{.State.ExitCode}}')"
dc sc logs --no-color client
check_contains "  its logs: rows=1" "$out" "rows=1"
check_eq "the named volume sc_pgdata exists" "local" "$(api GET /volumes/sc_pgdata | jq -r .Driver)"
t0=$SECONDS
dcok "docker-compose stop -t 60 db" sc stop -t 60 db
check_eq "  postgres got SIGTERM and shut down cleanly (exit 0) well before the 60 s" "0 yes" \
    "$(st sc_db_1 '{{.State.ExitCode}}') $([ $((SECONDS - t0)) -lt 40 ] && echo yes || echo "no: $((SECONDS - t0)) s")"
dcok "sc: docker-compose down (keeps the volume)" sc down -t 5
check_eq "  the volume is kept" "200" "$(api GET /volumes/sc_pgdata >/dev/null; code)"
dcok "sc: up -d again" sc up -d
wait_for 120 client_done
dc sc logs --no-color client
check_contains "  the rows survived: rows=2" "$out" "rows=2"
dcok "sc: docker-compose down -v" sc down -v -t 5
check_eq "  the volume is gone" "404" "$(api GET /volumes/sc_pgdata >/dev/null; code)"
check_eq "  nothing of sc is left" "0 0 0" "$(nothing_left sc)"
plan_end
