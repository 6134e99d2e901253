/*
 * Sink loader: find sink_<type>.so, dlopen it, check its ABI, and copy its
 * ops (contract in sink_loader.h and walwire/sink.h).
 *
 * Every failure leaves one line in err and returns:
 *   -EINVAL   the type name is empty or not a plain name, or a required
 *             field of the ops (name, open, write, close) is NULL
 *   -ENOENT   no module file for the type; the line lists the types that
 *             the directory does hold
 *   -ENOEXEC  the file is not a loadable module (dlopen failed), lacks the
 *             ww_sink_entry symbol, or ww_sink_entry() returned NULL
 *   -EPROTO   ABI version mismatch, or ops->size below WW_SINK_OPS_MIN_SIZE
 */
#include "sink_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "ww_build.h"

#define MODULE_PREFIX "sink_"
#define MODULE_SUFFIX ".so"

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A type is a plain file-name fragment: no '/', no "..", nothing odd. */
static int type_is_valid(const char *type)
{
    if (!type || !*type)
        return 0;
    for (const char *p = type; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* "<dir>/<sub>sink_<type>.so" into b (reset first); returns the C string. */
static const char *module_path(struct ww_buf *b, const char *dir, const char *sub, const char *type)
{
    ww_buf_reset(b);
    ww_buf_append_str(b, dir);
    ww_buf_putc(b, '/');
    if (sub) {
        ww_buf_append_str(b, sub);
        ww_buf_putc(b, '/');
    }
    ww_buf_puts(b, MODULE_PREFIX);
    ww_buf_append_str(b, type);
    ww_buf_puts(b, MODULE_SUFFIX);
    return ww_buf_cstr(b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The types of the modules in dir, in either layout (sink_<t>.so or
 * <t>/sink_<t>.so), sorted, without duplicates, joined by ", " into out.
 * Returns how many there are, or a negative errno when dir cannot be read.
 */
static int list_modules(const char *dir, struct ww_buf *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;

    char **names = NULL;
    size_t n = 0, cap = 0;
    struct ww_buf path = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *e = de->d_name;
        size_t len = strlen(e);
        size_t plen = sizeof(MODULE_PREFIX) - 1, slen = sizeof(MODULE_SUFFIX) - 1;
        char *type = NULL;
        if (len > plen + slen && strncmp(e, MODULE_PREFIX, plen) == 0 &&
            strcmp(e + len - slen, MODULE_SUFFIX) == 0) {
            type = strndup(e + plen, len - plen - slen);
        } else if (e[0] != '.' && type_is_valid(e) &&
                   is_regular_file(module_path(&path, dir, e, e))) {
            type = strdup(e);
        }
        if (!type)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown) {
                free(type);
                break;
            }
            names = grown;
        }
        names[n++] = type;
    }
    closedir(d);
    ww_buf_free(&path);

    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        if (count++ > 0)
            ww_buf_puts(out, ", ");
        ww_buf_append_str(out, names[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    ww_buf_cstr(out);
    return count;
}

/* The -ENOENT line: what was looked for and what the directory holds. */
static int not_found(const char *dir, const char *type, char *err, size_t errlen)
{
    struct ww_buf avail = {0};
    int n = list_modules(dir, &avail);
    if (n > 0)
        set_err(err, errlen,
                "no sink module \"%s\" in %s (looked for sink_%s.so); "
                "set [sink] type to one of: %s",
                type, dir, type, avail.data);
    else if (n == 0)
        set_err(err, errlen,
                "no sink module \"%s\" in %s (looked for sink_%s.so); "
                "the directory holds no sink_*.so modules; "
                "set [sink] dir to where they are installed",
                type, dir, type);
    else
        set_err(err, errlen,
                "no sink module \"%s\" in %s (looked for sink_%s.so): cannot read %s: %s; "
                "set [sink] dir to where the sink_*.so modules are installed",
                type, dir, type, dir, strerror(-n));
    ww_buf_free(&avail);
    return -ENOENT;
}

/* Refuse a module whose ops cannot be used; 0 or -EPROTO / -EINVAL. */
static int check_ops(const char *path, const struct ww_sink_ops *ops, char *err, size_t errlen)
{
    if (ops->abi_version != WW_SINK_ABI_VERSION) {
        set_err(err, errlen,
                "sink module %s: ABI version %u, walwire %s expects %u; "
                "install the module built with this walwire",
                path, (unsigned)ops->abi_version, WW_VERSION, (unsigned)WW_SINK_ABI_VERSION);
        return -EPROTO;
    }
    if (ops->size < WW_SINK_OPS_MIN_SIZE) {
        set_err(err, errlen, "sink module %s: struct ww_sink_ops is %u bytes, at least %zu needed",
                path, (unsigned)ops->size, (size_t)WW_SINK_OPS_MIN_SIZE);
        return -EPROTO;
    }
    const char *missing = !ops->name    ? "name"
                          : !ops->open  ? "open"
                          : !ops->write ? "write"
                          : !ops->close ? "close"
                                        : NULL;
    if (missing) {
        set_err(err, errlen, "sink module %s: required field %s of struct ww_sink_ops is NULL",
                path, missing);
        return -EINVAL;
    }
    return 0;
}

int ww_sink_load(const char *dir, const char *type, struct ww_sink_module *m, char *err,
                 size_t errlen)
{
    memset(m, 0, sizeof(*m));
    set_err(err, errlen, "%s", "");
    if (!dir || !*dir)
        dir = WW_SINK_DIR;
    if (!type_is_valid(type)) {
        set_err(err, errlen,
                "invalid sink type \"%s\": use a module name such as file, kafka or redis "
                "(letters, digits, '_' and '-')",
                type ? type : "");
        return -EINVAL;
    }

    /* Search order: <dir>/sink_<type>.so, then <dir>/<type>/sink_<type>.so. */
    struct ww_buf path = {0};
    if (!is_regular_file(module_path(&path, dir, NULL, type)) &&
        !is_regular_file(module_path(&path, dir, type, type))) {
        ww_buf_free(&path);
        return not_found(dir, type, err, errlen);
    }

    /* RTLD_NOW: an unresolved symbol fails here, not in the middle of a run.
     * RTLD_LOCAL: the module's symbols do not leak into other modules. */
    int rc;
    void *handle = dlopen(path.data, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        set_err(err, errlen, "sink module %s: cannot load: %s", path.data,
                why ? why : "unknown dlopen error");
        rc = -ENOEXEC;
        goto fail;
    }

    /* Converting the void * of dlsym to a function pointer is what POSIX
     * requires dlsym to support; memcpy keeps -Wpedantic quiet. */
    void *sym = dlsym(handle, WW_SINK_ENTRY_SYMBOL);
    if (!sym) {
        set_err(err, errlen, "sink module %s: no symbol %s (not a walwire sink?)", path.data,
                WW_SINK_ENTRY_SYMBOL);
        rc = -ENOEXEC;
        goto fail;
    }
    ww_sink_entry_fn entry;
    memcpy(&entry, &sym, sizeof(entry));
    const struct ww_sink_ops *ops = entry();
    if (!ops) {
        set_err(err, errlen, "sink module %s: %s() returned NULL", path.data, WW_SINK_ENTRY_SYMBOL);
        rc = -ENOEXEC;
        goto fail;
    }

    /* check_ops reads version and size first, and the required fields only
     * once size says they exist. Then copy what both sides know and leave
     * the rest of this build's struct zero (optional fields read as NULL). */
    rc = check_ops(path.data, ops, err, errlen);
    if (rc < 0)
        goto fail;
    size_t n = ops->size < sizeof(m->ops) ? ops->size : sizeof(m->ops);
    memcpy(&m->ops, ops, n);

    m->handle = handle;
    m->path = path.data; /* ownership moves to m */
    ww_debug("sink", "loaded sink module %s (%s, ABI %u, ops %u bytes)", m->path, m->ops.name,
             (unsigned)ops->abi_version, (unsigned)ops->size);
    return 0;

fail:
    if (handle)
        dlclose(handle);
    ww_buf_free(&path);
    memset(m, 0, sizeof(*m));
    return rc;
}

void ww_sink_unload(struct ww_sink_module *m)
{
    if (!m)
        return;
    if (m->handle)
        dlclose(m->handle);
    free(m->path);
    memset(m, 0, sizeof(*m));
}
