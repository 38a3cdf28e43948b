/* Helpers shared by the JSON parsers of src/oci (never used outside it). */
#ifndef CTR_OCI_INTERNAL_H
#define CTR_OCI_INTERNAL_H

#include <jansson.h>

#include "oci/oci.h"

/* Parse a JSON object (duplicate keys refused, size bounded). what names the document. */
json_t *oci_json_load_object(const char *json, size_t len, size_t max, const char *what,
                             ctr_error_t *err);
/* Optional string member: *out stays NULL when absent or null. */
int oci_json_string(json_t *obj, const char *key, bool required, char **out, const char *what,
                    ctr_error_t *err);
/* Optional array of strings: *out NULL when absent or null, else a NULL-terminated vector. */
int oci_json_strv(json_t *obj, const char *key, size_t max, char ***out, const char *what,
                  ctr_error_t *err);
/* Optional object of string values. */
int oci_json_kv(json_t *obj, const char *key, size_t max, struct oci_kv **out, size_t *n,
                const char *what, ctr_error_t *err);
/* Optional object whose keys are the data (ExposedPorts, Volumes): NULL-terminated keys. */
int oci_json_keys(json_t *obj, const char *key, size_t max, char ***out, const char *what,
                  ctr_error_t *err);
void oci_kv_free(struct oci_kv *kv, size_t n);

/* The index / manifest parsers on an already loaded document. */
int oci_index_from_json(json_t *root, struct oci_index *out, ctr_error_t *err);
int oci_manifest_from_json(json_t *root, struct oci_manifest *out, ctr_error_t *err);
/* schemaVersion must be 2 (1 is refused as docker schema 1). */
int oci_check_schema(json_t *root, int *out, const char *what, ctr_error_t *err);
bool oci_mt_is_schema1(const char *mt);
int oci_schema1_refused(ctr_error_t *err);

#endif
