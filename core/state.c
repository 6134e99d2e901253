#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sorted, comma-joined copy of the configured tables ("*" for all). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ww_state_from_config(struct ww_state *st, const struct ww_config *cfg, const char *database)
{
    memset(st, 0, sizeof *st);
    snprintf(st->slot, sizeof st->slot, "%s", cfg->slot);
    snprintf(st->database, sizeof st->database, "%s", database);
    snprintf(st->publication, sizeof st->publication, "%s", cfg->publication);
    if (cfg->ntables == 0) {
        snprintf(st->tables, sizeof st->tables, "*");
        return;
    }
    char **sorted = malloc(cfg->ntables * sizeof *sorted);
    if (!sorted)
        abort();
    memcpy(sorted, cfg->tables, cfg->ntables * sizeof *sorted);
    qsort(sorted, cfg->ntables, sizeof *sorted, cmp_str);
    size_t len = 0;
    for (size_t i = 0; i < cfg->ntables; i++) {
        int n = snprintf(st->tables + len, sizeof st->tables - len, "%s%s", i ? "," : "",
                         sorted[i]);
        if (n < 0 || (size_t)n >= sizeof st->tables - len)
            break;
        len += (size_t)n;
    }
    free(sorted);
}

int ww_state_read(const char *path, struct ww_state *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        if (e != ENOENT)
            snprintf(err, errlen, "state file %s: %s", path, strerror(e));
        return -e;
    }
    char line[9000];
    int version = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        if (strcmp(k, "version") == 0)
            version = atoi(v);
        else if (strcmp(k, "slot") == 0)
            snprintf(st->slot, sizeof st->slot, "%s", v);
        else if (strcmp(k, "database") == 0)
            snprintf(st->database, sizeof st->database, "%s", v);
        else if (strcmp(k, "publication") == 0)
            snprintf(st->publication, sizeof st->publication, "%s", v);
        else if (strcmp(k, "tables") == 0)
            snprintf(st->tables, sizeof st->tables, "%s", v);
        else if (strcmp(k, "snapshot") == 0)
            st->snapshot_completed = strcmp(v, "completed") == 0;
        else if (strcmp(k, "consistent_point") == 0)
            ww_lsn_parse(v, &st->consistent_point);
    }
    fclose(f);
    if (version != 1 || !st->slot[0]) {
        snprintf(err, errlen, "state file %s is not a walwire state file (version 1); move it "
                 "away or fix [source] state_file", path);
        return -EINVAL;
    }
    return 0;
}

int ww_state_write(const char *path, const struct ww_state *st, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write state file %s: %s (check [source] state_file)", tmp,
                 strerror(e));
        return -e;
    }
    char lsn[WW_LSN_STRLEN];
    char body[9500];
    int n = snprintf(body, sizeof body,
                     "# walwire state; delete this file to take a new snapshot\n"
                     "version=1\nslot=%s\ndatabase=%s\npublication=%s\ntables=%s\n"
                     "snapshot=%s\nconsistent_point=%s\n",
                     st->slot, st->database, st->publication, st->tables,
                     st->snapshot_completed ? "completed" : "started",
                     ww_lsn_format(st->consistent_point, lsn));
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t w = write(fd, body + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlink(tmp);
            snprintf(err, errlen, "writing state file %s: %s", tmp, strerror(e));
            return -e;
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        snprintf(err, errlen, "syncing state file %s: %s", tmp, strerror(e));
        return -e;
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        snprintf(err, errlen, "renaming %s to %s: %s", tmp, path, strerror(e));
        return -e;
    }
    /* Make the rename itself durable. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

bool ww_state_same_stream(const struct ww_state *saved, const struct ww_state *now, char *diff,
                          size_t difflen)
{
    size_t len = 0;
    diff[0] = '\0';
#define COMPARE(field, name)                                                                       \
    if (strcmp(saved->field, now->field) != 0 && len < difflen) {                                  \
        int n_ = snprintf(diff + len, difflen - len, "%s%s was %s, is now %s", len ? "; " : "",    \
                          name, saved->field, now->field);                                         \
        if (n_ > 0)                                                                                \
            len += (size_t)n_;                                                                     \
    }
    COMPARE(database, "database")
    COMPARE(publication, "publication")
    COMPARE(tables, "tables")
    COMPARE(slot, "slot")
#undef COMPARE
    return len == 0;
}
