# Bundle creation: image + docker run options -> bundle dir for the shim.
HOST_SRCS += $(wildcard src/bundle/*.c)
