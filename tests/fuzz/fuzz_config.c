/*
 * libFuzzer target: the configuration loader (ww_config_load,
 * config/config.c): an INI file through inih, environment overrides,
 * validation, and ww_config_free.
 *
 * Input: the file's text, optionally followed by a line "%env" and then
 * environment variables, one "NAME=value" a line. An input that starts with
 * "%env" loads no file (path NULL: environment only). The environment is a
 * fixed small one, then, for inputs of odd length, a conninfo holding a
 * password, then the variables of the input.
 *
 * The file is a memfd, opened by path (/proc/self/fd/N) as walwire opens
 * its -c argument; nothing is left on disk.
 *
 * Checked: 0 or -EINVAL (with an error line, no secret in it) and never
 * anything else; a loaded configuration holds what validation promises;
 * no leak (LeakSanitizer) on either path.
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A password that must never appear in an error line. Inputs that contain
 * it themselves are not judged (the fuzzer may learn it from the check). */
#define SECRET "pw-Zq8vK3xN"

#define MAX_ENV 32

static void check(int ok, const char *what, const char *err)
{
    if (!ok) {
        fprintf(stderr, "fuzz: config check failed: %s (err: %s)\n", what, err ? err : "");
        abort();
    }
}

static const char *find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return s + i;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("walwire.conf", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }

    /* Split: the file, then "%env" lines. */
    const char *text = (const char *)data;
    const char *sep =
        size >= 5 && memcmp(text, "%env\n", 5) == 0 ? text : find(text, size, "\n%env\n");
    size_t file_len = sep ? (size_t)(sep - text) : size;
    bool with_file = sep != text;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, file_len, 0) != (ssize_t)file_len) {
        perror("writing the memfd");
        abort();
    }

    /* The environment: fixed, the secret for odd sizes, then the input's. */
    char *envp[MAX_ENV + 5];
    size_t n = 0;
    envp[n++] = "HOME=/nonexistent";
    envp[n++] = "PATH=/usr/bin:/bin";
    envp[n++] = "WALWIRESOURCE=not_an_override";
    if (size % 2)
        envp[n++] = "WALWIRE_SOURCE_CONNINFO=host=db user=walwire password=" SECRET;
    char *env_text = NULL;
    if (sep) {
        const char *start = sep == text ? text + 5 : sep + 6;
        size_t env_len = size - (size_t)(start - text);
        env_text = malloc(env_len + 1);
        if (!env_text)
            abort();
        memcpy(env_text, start, env_len);
        env_text[env_len] = '\0';
        /* Lines become strings; a NUL in the input ends a variable early,
         * as it would in a real environment. */
        for (char *line = env_text; line && n < MAX_ENV + 4;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            envp[n++] = line;
            line = nl ? nl + 1 : NULL;
        }
    }
    envp[n] = NULL;

    struct ww_config cfg;
    char err[512];
    int rc = ww_config_load(with_file ? path : NULL, envp, &cfg, err, sizeof err);
    check(rc == 0 || rc == -EINVAL, "a result other than 0 or -EINVAL", err);
    check(memchr(err, '\0', sizeof err) != NULL, "err not terminated", NULL);
    if (!find(text, size, SECRET))
        check(strstr(err, SECRET) == NULL, "the password leaked into the error", err);
    if (rc < 0) {
        check(err[0] != '\0', "an error without a message", err);
        check(cfg.sections == NULL && cfg.conninfo == NULL, "not freed after an error", err);
    } else {
        check(err[0] == '\0', "a message without an error", err);
        check(cfg.conninfo && cfg.conninfo[0], "no conninfo", NULL);
        check(cfg.sink_type != NULL, "no sink type", NULL);
        check(cfg.slot && cfg.publication && cfg.state_file && cfg.topic_prefix, "defaults", NULL);
        check(cfg.snapshot_workers >= 1 && cfg.snapshot_workers <= 64, "snapshot_workers", NULL);
        check(cfg.status_interval_ms >= 1 && cfg.max_inflight_bytes >= 64 * 1024, "ranges", NULL);
        for (size_t i = 0; i < cfg.ntables; i++)
            check(strchr(cfg.tables[i], '.') != NULL, "a table without its schema", NULL);
        for (size_t i = 0; i < cfg.nsections; i++) {
            const struct ww_config_section *s = &cfg.sections[i];
            check(ww_config_section(&cfg, s->name) == s, "a section twice", NULL);
            for (size_t j = 0; j < s->nentries; j++)
                check(s->entries[j].key && s->entries[j].value && s->entries[j].origin,
                      "an entry without key, value or origin", NULL);
        }
        ww_config_free(&cfg);
    }
    free(env_text);
    return 0;
}
