/*
 * Sink loader: loads the fake modules of tests/unit/fake_sinks (built next
 * to this suite) and checks the ops copy and every error line of
 * core/sink_loader.h.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink_loader.h"
#include "ww_build.h"

#define FAKE_DIR WW_BUILD_ROOT "/tests/unit/fake_sinks"

static struct ww_sink_module mod;
static char err[1024];
static char tmp[256];

static void setup(void)
{
    memset(&mod, 0xA5, sizeof(mod)); /* load must initialise m itself */
    memset(err, 0, sizeof(err));
    snprintf(tmp, sizeof(tmp), "/tmp/ww_loader_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(sink_loader, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static void touch(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0, "create %s: %s", p, strerror(errno));
    close(fd);
}

static void subdir(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
}

/* tmp/<rel> -> fake_sinks/sink_<fake>.so */
static void link_fake(const char *rel, const char *fake)
{
    char p[512], target[512];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    snprintf(target, sizeof(target), "%s/sink_%s.so", FAKE_DIR, fake);
    cr_assert_eq(symlink(target, p), 0, "symlink %s: %s", p, strerror(errno));
}

static int ack_count, ack_last_status, done_count, probe_status;
static char probe_detail[128];

static void on_ack(void *token, int status)
{
    (*(int *)token)++;
    ack_count++;
    ack_last_status = status;
}

static void on_done(void *arg)
{
    cr_expect_eq(arg, &done_count);
    done_count++;
}

static void on_probe(void *arg, int status, const char *detail)
{
    (*(int *)arg)++;
    probe_status = status;
    snprintf(probe_detail, sizeof(probe_detail), "%s", detail);
}

static void assert_cleared(void)
{
    cr_assert_null(mod.handle);
    cr_assert_null(mod.path);
    cr_assert_null(mod.ops.write);
}

/* ---- modules that load ---- */

Test(sink_loader, good_module_loads_and_its_ops_work)
{
    cr_assert_eq(ww_sink_load(FAKE_DIR, "good", &mod, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_empty(err);
    cr_assert_not_null(mod.handle);
    cr_assert_str_eq(mod.path, FAKE_DIR "/sink_good.so");
    cr_assert_str_eq(mod.ops.name, "good");
    cr_assert_eq(mod.ops.abi_version, WW_SINK_ABI_VERSION);
    cr_assert_eq(mod.ops.size, sizeof(struct ww_sink_ops));
    cr_assert_not_null(mod.ops.probe);

    /* Drive the loaded sink through its ops. */
    struct ww_host host = {0};
    void *sink = NULL;
    cr_assert_eq(mod.ops.open(&host, &sink), 0);
    cr_assert_not_null(sink);
    struct ww_change change = {.op = WW_OP_CREATE, .value = "{}", .value_len = 2};
    int acks[2] = {0, 0};
    cr_assert_eq(mod.ops.write(sink, &change, on_ack, &acks[0]), 0);
    cr_assert_eq(mod.ops.write(sink, &change, on_ack, &acks[1]), 0);
    cr_assert_eq(ack_count, 0, "no ack from inside write");

    int probes = 0;
    mod.ops.probe(sink, on_probe, &probes);
    cr_assert_eq(probes, 1);
    cr_assert_eq(probe_status, 0);
    cr_assert_str_eq(probe_detail, "fake sink");

    mod.ops.close(sink, on_done, &done_count);
    cr_assert_eq(acks[0], 1);
    cr_assert_eq(acks[1], 1);
    cr_assert_eq(ack_last_status, -ECANCELED);
    cr_assert_eq(done_count, 1);

    ww_sink_unload(&mod);
    assert_cleared();
    ww_sink_unload(&mod); /* unloading twice is harmless */
}

Test(sink_loader, fields_beyond_ops_size_read_as_null)
{
    /* sink_old.so sets probe but says its struct ends before it. */
    cr_assert_eq(ww_sink_load(FAKE_DIR, "old", &mod, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(mod.ops.size, WW_SINK_OPS_MIN_SIZE);
    cr_assert_str_eq(mod.ops.name, "old");
    cr_assert_not_null(mod.ops.open);
    cr_assert_not_null(mod.ops.write);
    cr_assert_not_null(mod.ops.close);
    cr_assert_null(mod.ops.probe, "probe lies beyond ops->size and must read as NULL");
    ww_sink_unload(&mod);
}

Test(sink_loader, larger_ops_from_a_newer_module_load)
{
    cr_assert_eq(ww_sink_load(FAKE_DIR, "future", &mod, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(mod.ops.size, sizeof(struct ww_sink_ops) + 2 * sizeof(void (*)(void)));
    cr_assert_str_eq(mod.ops.name, "future");
    cr_assert_not_null(mod.ops.probe);
    ww_sink_unload(&mod);
}

Test(sink_loader, flat_layout_comes_before_the_build_tree_layout)
{
    /* <dir>/<type>/sink_<type>.so alone is found... */
    subdir("x");
    link_fake("x/sink_x.so", "good");
    cr_assert_eq(ww_sink_load(tmp, "x", &mod, err, sizeof(err)), 0, "%s", err);
    char want[512];
    snprintf(want, sizeof(want), "%s/x/sink_x.so", tmp);
    cr_assert_str_eq(mod.path, want);
    ww_sink_unload(&mod);

    /* ...but <dir>/sink_<type>.so wins when both exist. */
    subdir("y");
    link_fake("y/sink_y.so", "badabi");
    link_fake("sink_y.so", "good");
    cr_assert_eq(ww_sink_load(tmp, "y", &mod, err, sizeof(err)), 0, "%s", err);
    snprintf(want, sizeof(want), "%s/sink_y.so", tmp);
    cr_assert_str_eq(mod.path, want);
    ww_sink_unload(&mod);
}

/* ---- modules that are refused ---- */

Test(sink_loader, wrong_abi_version_names_file_and_both_versions)
{
    cr_assert_eq(ww_sink_load(FAKE_DIR, "badabi", &mod, err, sizeof(err)), -EPROTO);
    char want[512];
    snprintf(want, sizeof(want),
             "sink module %s/sink_badabi.so: ABI version %u, walwire %s expects %u; "
             "install the module built with this walwire",
             FAKE_DIR, WW_SINK_ABI_VERSION + 1, WW_VERSION, WW_SINK_ABI_VERSION);
    cr_assert_str_eq(err, want);
    cr_assert(strstr(err, "ABI version 2, walwire 0.1.0 expects 1"), "%s", err);
    assert_cleared();
}

Test(sink_loader, too_small_ops_is_refused)
{
    cr_assert_eq(ww_sink_load(FAKE_DIR, "small", &mod, err, sizeof(err)), -EPROTO);
    char want[512];
    snprintf(want, sizeof(want),
             "sink module %s/sink_small.so: struct ww_sink_ops is 16 bytes, at least %zu needed",
             FAKE_DIR, (size_t)WW_SINK_OPS_MIN_SIZE);
    cr_assert_str_eq(err, want);
    cr_assert(strstr(err, "at least 40 needed"), "%s", err); /* LP64 layout */
    assert_cleared();
}

Test(sink_loader, missing_entry_symbol_is_refused)
{
    cr_assert_eq(ww_sink_load(FAKE_DIR, "noentry", &mod, err, sizeof(err)), -ENOEXEC);
    cr_assert_str_eq(err, "sink module " FAKE_DIR
                          "/sink_noentry.so: no symbol ww_sink_entry (not a walwire sink?)");
    assert_cleared();
}

Test(sink_loader, null_required_function_is_refused)
{
    cr_assert_eq(ww_sink_load(FAKE_DIR, "nullwrite", &mod, err, sizeof(err)), -EINVAL);
    cr_assert_str_eq(err, "sink module " FAKE_DIR
                          "/sink_nullwrite.so: required field write of struct ww_sink_ops "
                          "is NULL");
    assert_cleared();
}

Test(sink_loader, a_file_that_is_not_a_shared_object_is_refused)
{
    touch("sink_junk.so"); /* empty: dlopen fails */
    cr_assert_eq(ww_sink_load(tmp, "junk", &mod, err, sizeof(err)), -ENOEXEC);
    char want[512];
    snprintf(want, sizeof(want), "sink module %s/sink_junk.so: cannot load: ", tmp);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
    cr_assert_gt(strlen(err), strlen(want), "dlerror() text follows: %s", err);
    assert_cleared();
}

/* ---- modules that are not there ---- */

Test(sink_loader, missing_type_lists_the_modules_in_the_directory)
{
    cr_assert_eq(ww_sink_load(FAKE_DIR, "kafak", &mod, err, sizeof(err)), -ENOENT);
    cr_assert_str_eq(err, "no sink module \"kafak\" in " FAKE_DIR
                          " (looked for sink_kafak.so); set [sink] type to one of: "
                          "badabi, future, good, noentry, nullwrite, old, small");
    assert_cleared();
}

Test(sink_loader, listing_covers_both_layouts_sorted_without_duplicates)
{
    touch("sink_zeta.so");
    touch("sink_alpha.so");
    subdir("alpha"); /* the same type in the build tree layout */
    touch("alpha/sink_alpha.so");
    subdir("mid");
    touch("mid/sink_mid.so");
    subdir("empty");   /* a directory without a module: not a type */
    touch("sink_.so"); /* no type name */
    touch("notes.txt");
    touch("sink_old.so.bak");
    cr_assert_eq(ww_sink_load(tmp, "nope", &mod, err, sizeof(err)), -ENOENT);
    char want[512];
    snprintf(want, sizeof(want),
             "no sink module \"nope\" in %s (looked for sink_nope.so); "
             "set [sink] type to one of: alpha, mid, zeta",
             tmp);
    cr_assert_str_eq(err, want);
}

Test(sink_loader, empty_directory_says_so)
{
    cr_assert_eq(ww_sink_load(tmp, "file", &mod, err, sizeof(err)), -ENOENT);
    char want[512];
    snprintf(want, sizeof(want),
             "no sink module \"file\" in %s (looked for sink_file.so); "
             "the directory holds no sink_*.so modules; "
             "set [sink] dir to where they are installed",
             tmp);
    cr_assert_str_eq(err, want);
}

Test(sink_loader, missing_directory_says_why)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/nowhere", tmp);
    cr_assert_eq(ww_sink_load(dir, "file", &mod, err, sizeof(err)), -ENOENT);
    char want[800];
    snprintf(want, sizeof(want),
             "no sink module \"file\" in %s (looked for sink_file.so): cannot read %s: "
             "No such file or directory; set [sink] dir to where the sink_*.so modules are "
             "installed",
             dir, dir);
    cr_assert_str_eq(err, want);
}

Test(sink_loader, empty_dir_means_the_compiled_in_directory)
{
    /* A type no installation has: the message shows where it looked. */
    const char *want =
        "no sink module \"no-such-sink\" in " WW_SINK_DIR " (looked for sink_no-such-sink.so)";
    cr_assert_eq(ww_sink_load(NULL, "no-such-sink", &mod, err, sizeof(err)), -ENOENT);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
    cr_assert_eq(ww_sink_load("", "no-such-sink", &mod, err, sizeof(err)), -ENOENT);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
}

Test(sink_loader, type_must_be_a_plain_name)
{
    /* "../fake_sinks/good" would reach a real module through the path. */
    const char *bad[] = {"", "../fake_sinks/good", "a/b", "good.so", "x y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(ww_sink_load(FAKE_DIR, bad[i], &mod, err, sizeof(err)), -EINVAL, "%s", bad[i]);
        cr_assert(strstr(err, "invalid sink type"), "%s", err);
        assert_cleared();
    }
    cr_assert_eq(ww_sink_load(FAKE_DIR, NULL, &mod, err, sizeof(err)), -EINVAL);
}

Test(sink_loader, error_buffer_is_optional_and_truncates)
{
    cr_assert_eq(ww_sink_load(FAKE_DIR, "badabi", &mod, NULL, 0), -EPROTO);
    char small_err[12];
    cr_assert_eq(ww_sink_load(FAKE_DIR, "badabi", &mod, small_err, sizeof(small_err)), -EPROTO);
    cr_assert_str_eq(small_err, "sink module");
}
