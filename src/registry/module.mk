# Registry client (issue 5): distribution API, auth, credentials, pull/push.
HOST_SRCS += $(wildcard src/registry/*.c)
