/* A container's writable layer over the API: GET /containers/{id}/changes, POST /commit,
 * and POST /images/create?fromSrc= (import) — the services are commit.c, changes.c and
 * import.c. docs/api.md. */
#include "daemon/api/api.h"
#include "image/layerdiff.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

int api_handle_changes(struct api_req *r)
{
    struct layerdiff_change *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;

    if (dmn_container_changes(r->d, r->params[0], &v, &n, &err) < 0)
        return api_reply_ctr_error(r, &err);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            out, json_pack("{s:o,s:i}", "Path", ctr_json_str(v[i].path), "Kind", (int)v[i].kind));
    layerdiff_changes_free(v, n);
    return api_reply_json(r, 200, out);
}

static enum MHD_Result collect_changes(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    if (key && value && strcmp(key, "changes") == 0 && *value)
        ctr_strv_append((char ***)cls, value);
    return MHD_YES;
}

int api_handle_commit(struct api_req *r)
{
    ctr_error_t err = NULL;
    cleanup_strv char **changes = ctr_xcalloc(1, sizeof(char *));
    cleanup_free char *id = NULL;
    json_t *config = NULL;

    const char *ctr = api_query(r, "container");
    if (ctr == NULL || *ctr == '\0')
        return api_reply_error(r, 404, "No such container: ");
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_changes, &changes);
    if (r->body_len > 0) {
        config = api_body_json(r, &err);
        if (config == NULL)
            return api_reply_ctr_error(r, &err);
        if (json_is_null(config)) {
            json_decref(config);
            config = NULL;
        } else if (!json_is_object(config)) {
            json_decref(config);
            return api_reply_error(r, 400, "the request body must be a container Config object");
        }
    }
    struct dmn_commit_req rq = {
        .container = ctr,
        .repo = api_query(r, "repo"),
        .tag = api_query(r, "tag"),
        .comment = api_query(r, "comment"),
        .author = api_query(r, "author"),
        .config = config,
        .changes = changes,
    };
    int rc = dmn_container_commit(r->d, &rq, &id, &err);
    json_decref(config);
    if (rc < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_json(r, 201, json_pack("{s:s}", "Id", id));
}

/* ---- import: the progress and the result as Docker's JSON message lines ---- */

static void line_add(char **text, json_t *m)
{
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    char *n = ctr_xasprintf("%s%s\r\n", *text, s ? s : "");
    free(s);
    free(*text);
    *text = n;
}

static void on_status(void *ctx, const char *msg)
{
    line_add(ctx, json_pack("{s:o}", "status", ctr_json_str(msg)));
}

int api_handle_images_import(struct api_req *r)
{
    const char *src = api_query(r, "fromSrc");
    ctr_error_t err = NULL;
    cleanup_strv char **changes = ctr_xcalloc(1, sizeof(char *));
    cleanup_free char *id = NULL;
    char *text = ctr_xstrdup("");

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_changes, &changes);
    bool stdin_src = strcmp(src, "-") == 0;
    if (stdin_src && r->upload_path == NULL) {
        free(text);
        return api_reply_error(r, 500, "cannot keep the uploaded archive");
    }
    struct dmn_import_req rq = {
        .src_path = stdin_src ? r->upload_path : NULL,
        .url = stdin_src ? NULL : src,
        .repo = api_query(r, "repo"),
        .tag = api_query(r, "tag"),
        .message = api_query(r, "message"),
        .platform = api_query(r, "platform"),
        .changes = changes,
    };
    /* Docker answers 200 before it reads the source: a failure is a line of the stream */
    if (dmn_image_import(r->d, &rq, on_status, &text, &id, &err) < 0) {
        line_add(&text, json_pack("{s:{s:o},s:o}", "errorDetail", "message", ctr_json_str(err->msg),
                                  "error", ctr_json_str(err->msg)));
        ctr_error_free(&err);
    } else {
        line_add(&text, json_pack("{s:s}", "status", id));
    }
    int rc = api_reply_text(r, 200, "application/json", text, strlen(text));
    free(text);
    return rc;
}
