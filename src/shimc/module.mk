# The shim control socket's client library (docs/runtime.md, "Control socket"):
# depends on src/proto and src/common only.
HOST_SRCS += src/shimc/conn.c src/shimc/session.c src/shimc/archive.c src/shimc/start.c
