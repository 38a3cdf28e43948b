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
#include <stdint.h>

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

/* ---- the build context (context.c) ----
 * An index of the context's entries, sorted by path (byte order), after .dockerignore.
 * From a directory: walked with openat/O_NOFOLLOW, never leaving it (a symlink is an
 * entry, never followed). From a stream (`docker build -`): a tar, plain or compressed
 * (gzip, bzip2, xz, zstd), whose data is spooled into an unlinked temp file; a stream
 * that is not a tar is the Dockerfile itself. A parent missing from the index (a tar
 * without directory entries, an excluded directory with kept children) is added as a
 * directory 0755 root. */
enum df_ctx_type { DF_CTX_REG, DF_CTX_DIR, DF_CTX_SYMLINK, DF_CTX_OTHER };
struct df_ctx_entry {
    char *path; /* relative, cleaned: "a/b" ("" is never one: the root is implicit) */
    enum df_ctx_type type;
    uint32_t mode; /* st_mode (type bits included) */
    uint32_t uid, gid, rdev_major, rdev_minor;
    uint64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
    char *link;        /* symlink target, as written */
    char hash[72];     /* "sha256:<hex>" of the data (regular files), filled lazily */
    int64_t spool_off; /* stream source: where the data is in the spool file */
    uint64_t link_id;  /* regular files: equal and non-zero for hard links of one file */
    bool hidden;       /* the Dockerfile or the ignore file the patterns exclude: kept for the
                          build, unseen by COPY (BuildKit reads them apart from the context) */
};
struct df_ctx {
    struct df_ctx_entry *v;
    size_t n, cap;
    int dir_fd;   /* directory source, else -1 */
    int spool_fd; /* stream source, else -1 */
};
/* dockerfile: the Dockerfile's path relative to the context ("Dockerfile" when NULL).
 * The ignore file is `<dockerfile>.dockerignore` when it exists, else `.dockerignore`
 * (BuildKit); the Dockerfile and the ignore file are kept whatever it says. */
int df_ctx_from_dir(const char *dir, const char *dockerfile, struct df_ctx **out, ctr_error_t *err);
int df_ctx_from_stream(int fd, const char *tmp_dir, const char *dockerfile, struct df_ctx **out,
                       ctr_error_t *err);
void df_ctx_free(struct df_ctx *c);
/* The entry at a cleaned relative path, or NULL. */
const struct df_ctx_entry *df_ctx_find(const struct df_ctx *c, const char *path);
/* Feed a regular file's data to fn (returns <0 to stop, filling err). */
int df_ctx_read(const struct df_ctx *c, const struct df_ctx_entry *e,
                int (*fn)(void *arg, const void *buf, size_t len, ctr_error_t *err), void *arg,
                ctr_error_t *err);
/* The content hash of an entry (computed once; symlinks hash their target, others ""). */
const char *df_ctx_hash(const struct df_ctx *c, struct df_ctx_entry *e, ctr_error_t *err);

/* ---- COPY and ADD from the context (copy.c: sources; layer.c: the layer tar) ---- */
struct df_copy_opts {
    char *const *srcs;    /* the sources, expanded */
    const char *dest;     /* the destination, expanded */
    const char *workdir;  /* the stage's WORKDIR ("/" when NULL) */
    const char *cmd;      /* "COPY" or "ADD" (messages; ADD unpacks local archives) */
    bool parents;         /* --parents */
    char *const *exclude; /* --exclude patterns, NULL-terminated (may be NULL) */
    const char *chown;    /* --chown value or NULL */
    const char *chmod;    /* --chmod value or NULL */
    const char *passwd;   /* the stage's /etc/passwd and /etc/group text (may be NULL) */
    const char *group;
    /* Whether an absolute path is a directory in the stage's filesystem (may be NULL). */
    bool (*is_dir)(void *arg, const char *path);
    void *is_dir_arg;
};
struct df_copy_item {
    struct df_ctx_entry *e; /* NULL: a parent directory the copy creates */
    char *dest;             /* absolute in the image: "/app/a.txt" */
    bool unpack;            /* ADD: a local archive to unpack into dest */
};
struct df_copy_plan {
    struct df_copy_item *v; /* in layer order: sorted by dest, parents first */
    size_t n;
    bool have_uid, have_mode;
    uint32_t uid, gid, mode; /* --chown (else 0:0) and --chmod results */
    char *chmod;             /* --chmod as given (symbolic forms apply per entry) */
};
/* Resolve the sources against the context (Docker's and BuildKit's rules and errors). */
int df_copy_resolve(struct df_ctx *c, const struct df_copy_opts *o, struct df_copy_plan *out,
                    ctr_error_t *err);
void df_copy_plan_release(struct df_copy_plan *p);
/* --chown's user:group to ids, names through the passwd and group text (may be NULL). */
int df_chown_parse(const char *spec, const char *passwd, const char *group, uint32_t *uid,
                   uint32_t *gid, ctr_error_t *err);
/* --chmod: octal ("0755") or symbolic ("u+x,go-w", BuildKit): the new permission bits
 * of an entry whose mode is mode. -1 when spec is not one. */
int df_chmod_apply(const char *spec, uint32_t mode);
/* The step's layer as an uncompressed PAX tar on fd; *diff_id "sha256:<hex>" and *size
 * of the bytes written (either may be NULL). */
int df_copy_write_layer(struct df_ctx *c, const struct df_copy_plan *p, int fd, char **diff_id,
                        int64_t *size, ctr_error_t *err);
/* The cache key of the step: sha256 over the instruction (expanded) and, per item in
 * order, dest, type, mode after --chmod, uid/gid after --chown, link target and content
 * hash (mtimes are not in it). "sha256:<hex>", caller frees. */
char *df_copy_cache_key(struct df_ctx *c, const struct df_copy_plan *p, const char *instruction,
                        ctr_error_t *err);

#endif
