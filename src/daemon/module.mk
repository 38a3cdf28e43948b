# container-apiserver: the Docker Engine API daemon (docs/daemon.md, docs/api.md).
HOST_SRCS += $(filter-out src/daemon/main.c,$(wildcard src/daemon/*.c src/daemon/api/*.c))
BINS += container-apiserver
container-apiserver_SRCS := src/daemon/main.c

