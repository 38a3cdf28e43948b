/* `container build --dump-instructions`: one JSON object per instruction (docs/build.md,
 * "The dump"). */
#include "build/build.h"

#include <jansson.h>

static json_t *strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, ctr_json_str(v[i]));
    return a;
}

char *df_instr_dump(const struct df_instr *in)
{
    cleanup_json json_t *o = json_object();
    json_object_set_new(o, "line", json_integer(in->line));
    json_object_set_new(o, "cmd", ctr_json_str(in->cmd));
    json_object_set_new(o, "flags", strv_json(in->flags));
    json_object_set_new(o, "args", strv_json(in->args));
    json_object_set_new(o, "json", json_boolean(in->json));
    json_t *h = json_array();
    for (size_t i = 0; i < in->nheredocs; i++) {
        json_t *d = json_object();
        json_object_set_new(d, "name", ctr_json_str(in->heredocs[i].name));
        json_object_set_new(d, "content", ctr_json_str(in->heredocs[i].content));
        json_object_set_new(d, "expand", json_boolean(in->heredocs[i].expand));
        json_array_append_new(h, d);
    }
    json_object_set_new(o, "heredocs", h);
    return json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(0));
}
