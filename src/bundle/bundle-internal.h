/* Shared inside src/bundle only. */
#ifndef CTR_BUNDLE_INTERNAL_H
#define CTR_BUNDLE_INTERNAL_H

#include "bundle/bundle.h"

/* The caller's value of an environment variable (opts->lookup_env or getenv). */
const char *bundle_create_lookup(const struct bundle_create_opts *opts, const char *name);

#endif
