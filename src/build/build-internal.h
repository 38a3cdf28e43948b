/* Shared inside src/build only. */
#ifndef CTR_BUILD_INTERNAL_H
#define CTR_BUILD_INTERNAL_H

#include "build/build.h"

/* Instruction arguments the way BuildKit's parser reads them (instr.c). Each fills
 * in->args/nargs/json or returns -1 with a bare message (parse.c adds the location). */
int df_args_for(struct df_instr *in, const char *rest, char escape, ctr_error_t *err);
/* The checks of BuildKit's instructions package for one instruction (instr.c). */
int df_check_instr(const struct df_instr *in, ctr_error_t *err);
/* Whether a lower-case name is an instruction. */
bool df_known_cmd(const char *cmd);
/* BuildKit's parseWords: words split on white space, quotes and escapes kept. */
char **df_parse_words(const char *rest, char escape, size_t *n);
/* White space as Go's unicode.IsSpace sees it in ASCII. */
static inline bool df_isspace(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
/* Append to a NULL-terminated vector, counting (n may be NULL). */
void df_strv_push(char ***v, size_t *n, char *owned);

/* Go's path.Clean (ignore.c): "" and "." give ".", `..` resolved lexically. */
char *df_clean_path(const char *p);
/* The whole of s against pattern p: `*` `?` `[...]` `\` (not across `/`), `**` across. */
bool df_glob(const char *p, const char *s);
/* Whether a `!` pattern exists (an excluded directory may then hold kept entries). */
bool df_ignore_has_exceptions(const struct df_ignore *ig);
/* layer.c: whether a context file is a tar, compressed or not (ADD unpacks it: by
 * content, as BuildKit); an entry's mode after the plan's --chmod. */
bool df_copy_is_archive(struct df_ctx *c, struct df_ctx_entry *e);
uint32_t df_copy_entry_mode(const struct df_copy_plan *p, const struct df_ctx_entry *e);
/* context.c: an fd to read a regular entry's data from at *off (caller closes). */
int df_ctx_data_fd(const struct df_ctx *c, const struct df_ctx_entry *e, int64_t *off,
                   ctr_error_t *err);

#endif
