/* The limits a process (main or exec) must fit before it is sent to the guest: the
 * control frame the shim sends and what the agent's decoder accepts. */
#include "daemon/daemon-internal.h"
#include "proto/agent.h"

#include <errno.h>
#include <stdint.h>

int dmn_process_check_size(const struct agent_exec *ex, const char *what, ctr_error_t *err)
{
    /* What the shim sends to start it: the same encoder and the guest's decoder. */
    struct agent_request req = {.op = AGENT_OP_EXEC, .id = UINT32_MAX};
    req.u.exec = *ex;
    req.u.exec.process = (char *)"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    req.u.exec.stdin_stream = UINT32_MAX - 2;
    req.u.exec.stdout_stream = UINT32_MAX - 1;
    req.u.exec.stderr_stream = UINT32_MAX;
    size_t len = 0;
    cleanup_free char *json = agent_request_encode(&req, &len);
    if (json == NULL)
        return dmn_fail(err, EINVAL, "the %s cannot be encoded for the guest", what);
    if (len > AGENT_MAX_CONTROL)
        return dmn_fail(err, EINVAL,
                        "the %s (command, environment, working directory and user) takes %zu "
                        "bytes: at most %u are allowed",
                        what, len, AGENT_MAX_CONTROL);
    struct agent_request back = {0};
    ctr_error_t e2 = NULL;
    if (agent_request_decode(json, len, &back, &e2) < 0) {
        dmn_fail(err, EINVAL, "the %s is refused by the guest's limits: %s", what, e2->msg);
        ctr_error_free(&e2);
        return -1;
    }
    agent_request_release(&back);
    return 0;
}
