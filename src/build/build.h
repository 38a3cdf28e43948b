/* The Dockerfile language as BuildKit's dockerfile frontend reads it (docs/build.md):
 * the parser (parse.c: lines, directives, continuations, heredocs; instr.c: each
 * instruction's arguments and flags), variable substitution (lex.c), the stage walk that
 * computes what each instruction sees (walk.c), `.dockerignore` matching (ignore.c) and
 * the instruction dump of `container build --dump-instructions` (dump.c). No executor
 * yet. Every non-static symbol carries the `df_` prefix. */
#ifndef CTR_BUILD_H
#define CTR_BUILD_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- the parser ---- */
struct df_heredoc {
    char *name;    /* the delimiter, quotes removed */
    char *content; /* the lines up to the delimiter, each with its newline; `<<-`: tabs
                      at the start of each line already stripped */
    bool expand;   /* false when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`) */
    bool chomp;    /* `<<-` */
};

struct df_instr {
    int line, end_line; /* first and last line (1-based); heredoc bodies included */
    char *cmd;          /* lower case: "run", "from", ... */
    char *original;     /* the instruction's line after continuation joining */
    char **flags;       /* "--mount=type=cache,target=/x" ..., quotes removed (NULL-terminated) */
    char **args;        /* before variable expansion (NULL-terminated); see docs/build.md */
    size_t nargs;
    bool json;     /* exec (JSON) form */
    char *trigger; /* ONBUILD: the trigger's instruction (lower case), else NULL */
    bool trigger_json;
    struct df_heredoc *heredocs;
    size_t nheredocs;
};

struct df_file {
    struct df_instr *instrs;
    size_t n;
    char escape;  /* '\\' or '`' */
    char *syntax; /* the `# syntax=` directive, or NULL */
    char *check;  /* the `# check=` directive, or NULL */
};

/* Parse a Dockerfile (len bytes of text). name is the file's name in messages:
 * "Dockerfile:7: unknown instruction: RUNN". Checks what BuildKit checks when it reads
 * the file (instructions, their arguments and flags, a stage before any instruction
 * but ARG); nothing is expanded. */
int df_parse(const char *name, const char *text, size_t len, struct df_file *out, ctr_error_t *err);
void df_file_release(struct df_file *f);
#define cleanup_df_file CTR_CLEANUP(df_file_release)

/* One instruction as a line of the dump: {"line": N, "cmd": ..., "flags": [...],
 * "args": [...], "json": ..., "heredocs": [...]} (caller frees; no newline). */
char *df_instr_dump(const struct df_instr *in);

/* ---- variable substitution (lex.c), BuildKit's shell/lex.go ----
 * vars: NULL-terminated "NAME=VALUE" (the last of a name wins). */
struct df_lex {
    char escape;       /* '\\' or '`' */
    bool raw_quotes;   /* keep quote characters in the result */
    bool skip_unset;   /* leave `$UNSET` as written instead of "" */
    char *const *vars; /* NULL-terminated NAME=VALUE */
};
/* One word: quotes removed, escapes applied, variables substituted (no splitting). */
char *df_lex_word(const struct df_lex *lx, const char *word, ctr_error_t *err);
/* Words split on unquoted white space, each processed as df_lex_word. */
char **df_lex_words(const struct df_lex *lx, const char *text, ctr_error_t *err);
/* Whether BuildKit expands variables in this instruction's arguments (lower-case cmd). */
bool df_cmd_expands(const char *cmd);

/* ---- the stage walk (walk.c) ---- */
struct df_walk_opts {
    char *const *build_args;     /* --build-arg NAME=VALUE (NULL-terminated), may be NULL */
    const char *target_platform; /* "linux/amd64"; NULL: the build platform */
    const char *build_platform;  /* NULL: the host's */
};
struct df_step {
    int stage;     /* index of the stage (-1: before the first FROM) */
    char **vars;   /* NAME=VALUE the instruction's expansion sees (ARG and ENV in scope) */
    char **words;  /* the args expanded (instructions that expand), else a copy of args */
    char **unused; /* only on the last step: build args no ARG declared */
};
/* One step per instruction of f, in order (caller frees with df_steps_free). */
int df_walk(const struct df_file *f, const struct df_walk_opts *o, struct df_step **out,
            ctr_error_t *err);
void df_steps_free(struct df_step *steps, size_t n);

/* ---- .dockerignore (ignore.c), Docker's patternmatcher ---- */
struct df_ignore {
    struct df_ignore_pat *pats;
    size_t n;
};
/* Read the patterns of a .dockerignore's text (comments, blank lines, `!`, cleaning). */
void df_ignore_parse(const char *text, struct df_ignore *out);
/* Whether path (relative to the context, '/'-separated) is excluded: the last pattern
 * that matches it or one of its parent directories wins. The Dockerfile and the
 * .dockerignore are sent whatever this says (the context code's job). */
bool df_ignore_match(const struct df_ignore *ig, const char *path);
void df_ignore_release(struct df_ignore *ig);
#define cleanup_df_ignore CTR_CLEANUP(df_ignore_release)

#endif
