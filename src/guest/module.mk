# vminitd: the guest's PID 1 (static, jansson only) and its unit tests.
UNIT_TESTS += test-agent-frame test-agent-msg
test-agent-frame_SRCS := tests/unit/test-agent-frame.c
test-agent-msg_SRCS := tests/unit/test-agent-msg.c
