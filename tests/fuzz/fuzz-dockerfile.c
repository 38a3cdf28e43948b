/* libFuzzer target: arbitrary bytes as a Dockerfile (src/build): the parser, the dump of
 * each instruction, the stage walk with its variable substitution, and the same bytes as
 * a .dockerignore matched against a few paths. A parse either succeeds or fails with a
 * message naming the file; nothing may crash, leak or hit UB. Seeds: the corpus of
 * tests/fixtures/dockerfiles. Built and run by tests/fuzz/run.sh dockerfile. */
#include "build/build.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct df_file f = {0};
    ctr_error_t err = NULL;
    if (df_parse("Dockerfile", text, size, &f, &err) == 0) {
        for (size_t i = 0; i < f.n; i++)
            free(df_instr_dump(&f.instrs[i]));
        char *bargs[] = {"A=1", "HTTP_PROXY=x", NULL};
        struct df_walk_opts o = {bargs, "linux/arm/v7", "linux/amd64"};
        struct df_step *steps = NULL;
        if (df_walk(&f, &o, &steps, &err) == 0)
            df_steps_free(steps, f.n);
        else
            ctr_error_free(&err);
        df_file_release(&f);
    } else {
        if (err == NULL || strncmp(err->msg, "Dockerfile", 10) != 0)
            abort();
        ctr_error_free(&err);
    }

    struct df_ignore ig;
    df_ignore_parse(text, &ig);
    static const char *const paths[] = {"a",          "a/b/c", "Dockerfile",          "x.go",
                                        "src/.git/x", ".",     "deep/er/path/file.md"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++)
        (void)df_ignore_match(&ig, paths[i]);
    df_ignore_release(&ig);
    free(text);
    return 0;
}
