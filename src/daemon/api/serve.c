/* The API server: http.c serving the route table of routes.c. The one place that ties
 * the two, so that http.c, which every handler calls, calls no handler back. */
#include "daemon/api/api.h"

void *api_http_start(struct dmn *d, int listen_fd, ctr_error_t *err)
{
    static const struct api_http_ops ops = {
        .dispatch = api_dispatch,
        .wants_upload = api_route_wants_upload,
        .streams_upload = api_route_streams_upload,
        .stream_begin = api_archive_put_begin,
    };
    return api_http_serve(d, listen_fd, &ops, err);
}
