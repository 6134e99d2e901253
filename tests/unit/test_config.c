/*
 * Unit suite for config/: the INI file, environment overrides, validation
 * and its messages, the value parsers, and the rule that secrets never
 * reach an error message. Every case writes its file with mkstemp in /tmp.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_keys.h"
#include "log.h"

#define EXAMPLE_CONF WW_FIXTURES_DIR "/../../config/walwire.example.conf"
#define MINIMAL      "[source]\nconninfo = host=db\n[sink]\ntype = null\n"

/* One test's state; each Criterion test runs in its own process. */
static struct ww_config cfg;
static char err[512];
static char path[64];

static void cleanup(void)
{
    ww_config_free(&cfg);
    if (path[0])
        unlink(path);
    path[0] = '\0';
}

TestSuite(unit_config, .fini = cleanup);

/* Write n bytes to a new file in /tmp; its name goes to path. */
static void write_bytes(const char *text, size_t n)
{
    if (path[0])
        unlink(path);
    snprintf(path, sizeof(path), "/tmp/ww_config_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static void write_file(const char *text)
{
    write_bytes(text, strlen(text));
}

/* Load text as a file with env (NULL-terminated, may be NULL). */
static int load(const char *text, char *const *env)
{
    write_file(text);
    memset(err, 0, sizeof(err));
    return ww_config_load(path, env, &cfg, err, sizeof(err));
}

/* Load text, expect -EINVAL and an error containing
 * "<path>:<line>: <rest>" (line 0: "<path>: <rest>"). */
static void expect_file_error(const char *text, int line, const char *rest)
{
    char want[512];
    cr_assert_eq(load(text, NULL), -EINVAL, "loaded: %s", text);
    if (line > 0)
        snprintf(want, sizeof(want), "%s:%d: %s", path, line, rest);
    else
        snprintf(want, sizeof(want), "%s: %s", path, rest);
    cr_assert(strstr(err, want), "error\n  %s\nlacks\n  %s", err, want);
    cr_assert_null(cfg.sections, "a failed load leaves cfg freed");
}

/* The minimal file with extra lines added under [source]: line 3 is the
 * first extra line. */
static void expect_source_error(const char *lines, int line, const char *rest)
{
    char text[1024];
    snprintf(text, sizeof(text), "[source]\nconninfo = host=db\n%s\n[sink]\ntype = null\n", lines);
    expect_file_error(text, line, rest);
}

static void expect_source_ok(const char *lines)
{
    char text[1024];
    snprintf(text, sizeof(text), "[source]\nconninfo = host=db\n%s\n[sink]\ntype = null\n", lines);
    cr_assert_eq(load(text, NULL), 0, "%s: %s", lines, err);
}

/* Every field that has a default holds it. */
static void assert_defaults(const struct ww_config *c)
{
    cr_expect_null(c->password_file);
    cr_expect_str_eq(c->slot, "walwire");
    cr_expect_str_eq(c->publication, "walwire");
    cr_expect_eq(c->ntables, 0);
    cr_expect(c->create_slot);
    cr_expect(c->create_publication);
    cr_expect_eq(c->snapshot, WW_SNAPSHOT_INITIAL);
    cr_expect_eq(c->snapshot_workers, 2);
    cr_expect_str_eq(c->state_file, "walwire.state");
    cr_expect_eq(c->status_interval_ms, 10000);
    cr_expect_eq(c->heartbeat_interval_ms, 0);
    cr_expect_eq(c->max_inflight_bytes, 64ull << 20);
    cr_expect_eq(c->shutdown_timeout_ms, 30000);
    cr_expect_null(c->sink_dir);
    cr_expect_str_eq(c->topic_prefix, "walwire");
    cr_expect_null(c->http_listen);
    cr_expect_eq(c->log_level, WW_LOG_INFO);
    cr_expect_eq(c->log_format, WW_LOG_TEXT);
    cr_expect_not(c->temporal_iso8601);
    cr_expect_not(c->transactions);
}

static const char *value_of(const char *section, const char *key)
{
    const struct ww_config_entry *e = ww_config_entry_get(ww_config_section(&cfg, section), key);
    return e ? e->value : NULL;
}

/* ---- files that load ---------------------------------------------------- */

Test(unit_config, example_file_holds_every_default)
{
    int rc = ww_config_load(EXAMPLE_CONF, NULL, &cfg, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_str_eq(cfg.conninfo, "host=localhost port=5432 dbname=app user=walwire");
    cr_expect_str_eq(cfg.sink_type, "file");
    assert_defaults(&cfg);
    cr_expect_str_eq(value_of("file", "path"), "-");
    cr_expect_str_eq(value_of("file", "fsync"), "batch");
    cr_expect_str_eq(value_of("kafka", "topic"), "{prefix}.{schema}.{table}");
    cr_expect_str_eq(value_of("redis", "url"), "redis://127.0.0.1:6379/0");
    cr_expect_str_eq(value_of("redis", "stream"), "{prefix}:{schema}.{table}");
    cr_expect_str_eq(value_of("redis", "maxlen"), "~1000000");
    cr_expect_str_eq(value_of("redis", "id"), "lsn");
    /* Every core key is written out, so that the file documents them all. */
    for (size_t i = 0; i < ww_key_nspecs; i++)
        cr_expect_not_null(value_of(ww_key_specs[i].section, ww_key_specs[i].key),
                           "[%s] %s missing from the example", ww_key_specs[i].section,
                           ww_key_specs[i].key);
}

Test(unit_config, minimal_file_gets_defaults)
{
    cr_assert_eq(load(MINIMAL, NULL), 0, "%s", err);
    cr_expect_str_eq(cfg.conninfo, "host=db");
    cr_expect_str_eq(cfg.sink_type, "null");
    cr_expect_str_eq(cfg.path, path);
    assert_defaults(&cfg);
}

/* DESIGN.md section 6, verbatim. */
static const char design_example[] =
    "[source]\n"
    "conninfo = host=db port=5432 dbname=app user=walwire   ; libpq conninfo or URI\n"
    "slot = walwire\n"
    "publication = walwire\n"
    "tables = public.users, public.orders   ; empty: every table in the publication\n"
    "create_slot = true\n"
    "create_publication = true\n"
    "snapshot = initial            ; initial | never | always | initial_only\n"
    "snapshot_workers = 2\n"
    "state_file = /var/lib/walwire/state   ; snapshot completion + config fingerprint\n"
    "status_interval = 10s\n"
    "heartbeat_interval = 0        ; >0: pg_logical_emit_message at this interval\n"
    "max_inflight_bytes = 64MB\n"
    "\n"
    "[sink]\n"
    "type = kafka                  ; file | kafka | redis \xe2\x86\x92 loads sink_<type>.so\n"
    "dir =                         ; where modules are; default: the install dir\n"
    "topic_prefix = walwire\n"
    "\n"
    "[kafka]\n"
    "topic = {prefix}.{schema}.{table}\n"
    "; any other key is a librdkafka property, passed through:\n"
    "bootstrap.servers = kafka:9092\n"
    "\n"
    "[redis]\n"
    "url = redis://127.0.0.1:6379/0\n"
    "stream = {prefix}:{schema}.{table}\n"
    "maxlen = ~1000000\n"
    "\n"
    "[file]\n"
    "path = -                      ; '-' is stdout\n"
    "fsync = batch                 ; always | batch | never\n"
    "\n"
    "[http]\n"
    "listen = 127.0.0.1:9187       ; /metrics /healthz /readyz; empty disables\n"
    "\n"
    "[log]\n"
    "level = info\n"
    "format = text                 ; text | json\n";

Test(unit_config, design_example_loads)
{
    cr_assert_eq(load(design_example, NULL), 0, "%s", err);
    cr_expect_str_eq(cfg.conninfo, "host=db port=5432 dbname=app user=walwire");
    cr_assert_eq(cfg.ntables, 2);
    cr_expect_str_eq(cfg.tables[0], "public.users");
    cr_expect_str_eq(cfg.tables[1], "public.orders");
    cr_expect_str_eq(cfg.state_file, "/var/lib/walwire/state");
    cr_expect_str_eq(cfg.sink_type, "kafka");
    cr_expect_null(cfg.sink_dir);
    cr_expect_str_eq(cfg.http_listen, "127.0.0.1:9187");
    cr_expect_eq(cfg.max_inflight_bytes, 64ull << 20);
    cr_expect_str_eq(value_of("kafka", "bootstrap.servers"), "kafka:9092");
    cr_expect_str_eq(value_of("file", "path"), "-");
    cr_expect_str_eq(value_of("redis", "maxlen"), "~1000000");
    const struct ww_config_entry *e =
        ww_config_entry_get(ww_config_section(&cfg, "kafka"), "bootstrap.servers");
    cr_assert_not_null(e);
    cr_expect_str_eq(e->origin, path);
    cr_expect_eq(e->line, 23);
    cr_expect_null(ww_config_section(&cfg, "null"));
    cr_expect_null(ww_config_entry_get(ww_config_section(&cfg, "kafka"), "nope"));
}

Test(unit_config, comments_indentation_crlf_and_bom)
{
    const char *text = "\xEF\xBB\xBF# a comment\r\n"
                       "  [source]   ; header comment\r\n"
                       "\tconninfo = host=db  # hash comment\r\n"
                       "    slot = a_b ; semicolon comment\r\n"
                       "publication = pub#1;x\r\n"
                       "[ sink ]\r\n"
                       "type = null\r\n";
    cr_assert_eq(load(text, NULL), 0, "%s", err);
    cr_expect_str_eq(cfg.conninfo, "host=db");
    cr_expect_str_eq(cfg.slot, "a_b", "indented keys are keys, not continuations");
    cr_expect_str_eq(cfg.publication, "pub#1;x", "no blank before # or ; : part of the value");
    cr_expect_eq(ww_config_entry_get(ww_config_section(&cfg, "source"), "slot")->line, 4);
}

Test(unit_config, every_typed_value)
{
    const char *text = "[source]\nconninfo = postgresql://u@db/app\npassword_file = /run/pw\n"
                       "slot = s_1\npublication = \"Pub\"\ntables = users\n"
                       "create_slot = off\ncreate_publication = NO\nsnapshot = initial_only\n"
                       "snapshot_workers = 64\nstatus_interval = 1h\nheartbeat_interval = 500ms\n"
                       "max_inflight_bytes = 64kB\nshutdown_timeout = 2m\n"
                       "[sink]\ntype = my_sink2\ndir = /opt/sinks\ntopic_prefix = cdc\n"
                       "[http]\nlisten = [::1]:9187\n"
                       "[log]\nlevel = debug\nformat = json\n"
                       "[format]\ntemporal = iso8601\ntransactions = yes\n";
    cr_assert_eq(load(text, NULL), 0, "%s", err);
    cr_expect_str_eq(cfg.password_file, "/run/pw");
    cr_expect_str_eq(cfg.slot, "s_1");
    cr_expect_str_eq(cfg.publication, "\"Pub\"", "values are literal");
    cr_expect_str_eq(cfg.tables[0], "public.users");
    cr_expect_not(cfg.create_slot);
    cr_expect_not(cfg.create_publication);
    cr_expect_eq(cfg.snapshot, WW_SNAPSHOT_INITIAL_ONLY);
    cr_expect_eq(cfg.snapshot_workers, 64);
    cr_expect_eq(cfg.status_interval_ms, 3600000);
    cr_expect_eq(cfg.heartbeat_interval_ms, 500);
    cr_expect_eq(cfg.max_inflight_bytes, 65536);
    cr_expect_eq(cfg.shutdown_timeout_ms, 120000);
    cr_expect_str_eq(cfg.sink_type, "my_sink2");
    cr_expect_str_eq(cfg.sink_dir, "/opt/sinks");
    cr_expect_str_eq(cfg.topic_prefix, "cdc");
    cr_expect_str_eq(cfg.http_listen, "[::1]:9187");
    cr_expect_eq(cfg.log_level, WW_LOG_DEBUG);
    cr_expect_eq(cfg.log_format, WW_LOG_JSON);
    cr_expect(cfg.temporal_iso8601);
    cr_expect(cfg.transactions);
}

Test(unit_config, snapshot_modes)
{
    const char *names[] = {"initial", "never", "always", "initial_only"};
    enum ww_snapshot_mode modes[] = {WW_SNAPSHOT_INITIAL, WW_SNAPSHOT_NEVER, WW_SNAPSHOT_ALWAYS,
                                     WW_SNAPSHOT_INITIAL_ONLY};
    for (int i = 0; i < 4; i++) {
        char line[64];
        snprintf(line, sizeof(line), "snapshot = %s", names[i]);
        expect_source_ok(line);
        cr_expect_eq(cfg.snapshot, modes[i], "%s", names[i]);
        ww_config_free(&cfg);
    }
}

/* ---- tables ----------------------------------------------------------- */

Test(unit_config, tables_are_qualified_folded_and_quoted)
{
    expect_source_ok("tables = public.users,orders , Sales.Q1,\"My Schema\".\"My Table\", "
                     "\"say \"\"hi\"\", ok\"");
    cr_assert_eq(cfg.ntables, 5);
    cr_expect_str_eq(cfg.tables[0], "public.users");
    cr_expect_str_eq(cfg.tables[1], "public.orders");
    cr_expect_str_eq(cfg.tables[2], "sales.q1", "bare names fold to lower case");
    cr_expect_str_eq(cfg.tables[3], "My Schema.My Table");
    cr_expect_str_eq(cfg.tables[4], "public.say \"hi\", ok");
}

Test(unit_config, table_list_errors)
{
    static const struct {
        const char *value, *why;
    } cases[] = {
        {"a,,b", "(element 2 is empty)"},
        {", a", "(element 1 is empty)"},
        {"a, b,", "(element 3 is empty)"},
        {"a.b.c", "(element 1 has more than one dot)"},
        {"x, \"a.b\".c", "(element 2: a dot inside a quoted name is not supported)"},
        {"\"open", "(element 1: a quote is not closed)"},
        {"users, public.users", "(element 2, public.users, is listed twice)"},
        {"my table", "(element 1: unexpected text after the name)"},
        {"1abc", "(element 1: unexpected character '1'"},
        {"a.", "(element 1 has an empty name)"},
        {"\"\".t", "(element 1 has an empty name)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[128], rest[256];
        snprintf(line, sizeof(line), "tables = %s", cases[i].value);
        snprintf(rest, sizeof(rest),
                 "[source] tables: expected a comma-separated list of [schema.]table names %s",
                 cases[i].why);
        expect_source_error(line, 3, rest);
        cr_expect(strstr(err, cases[i].value), "the value is shown: %s", err);
    }
    char line[200];
    snprintf(line, sizeof(line), "tables = %.64s",
             "a123456789b123456789c123456789d123456789"
             "e123456789f123456789g1234");
    expect_source_error(line, 3,
                        "[source] tables: expected a comma-separated list of "
                        "[schema.]table names (element 1: a name is longer than 63");
}

/* ---- validation messages ----------------------------------------------- */

Test(unit_config, bad_size_names_file_line_key_and_value)
{
    char text[512], want[256];
    snprintf(text, sizeof(text), "[source]\nconninfo = host=db\n%s[sink]\ntype = null\n",
             "\n\n\n; filler\n\n\n\n\n[source]\nmax_inflight_bytes = lots\n");
    cr_assert_eq(load(text, NULL), -EINVAL);
    snprintf(want, sizeof(want),
             "%s:12: [source] max_inflight_bytes: expected a size such as 64MB, got \"lots\"",
             path);
    cr_expect_str_eq(err, want);
}

Test(unit_config, required_keys)
{
    expect_file_error("[sink]\ntype = null\n", 0,
                      "[source] conninfo is required: set it to a libpq connection string such "
                      "as host=db dbname=app user=walwire");
    expect_file_error("[source]\nconninfo =\n[sink]\ntype = null\n", 2,
                      "[source] conninfo is empty: set it to a libpq connection string");
    expect_file_error("[source]\nconninfo = host=db\n", 0,
                      "[sink] type is required: set it to file, kafka, redis or null");
    /* An empty file, and no file at all, also name the missing key. */
    expect_file_error("", 0, "[source] conninfo is required");
    char *env[] = {"WALWIRE_SINK_TYPE=null", NULL};
    cr_assert_eq(ww_config_load(NULL, env, &cfg, err, sizeof(err)), -EINVAL);
    cr_expect(strstr(err, "configuration: [source] conninfo is required"), "%s", err);
}

Test(unit_config, range_and_enum_errors)
{
    static const struct {
        const char *line, *rest;
    } cases[] = {
        {"max_inflight_bytes = 32kB", "[source] max_inflight_bytes: expected a size of at least "
                                      "64kB, got \"32kB\""},
        {"max_inflight_bytes = 99999999999999999999GB",
         "[source] max_inflight_bytes: expected a size such as 64MB"},
        {"status_interval = 0", "[source] status_interval: expected a duration greater than 0 "
                                "and at most 1h, got \"0\""},
        {"status_interval = 61m", "[source] status_interval: expected a duration greater than 0 "
                                  "and at most 1h"},
        {"status_interval = soon", "[source] status_interval: expected a duration such as 10s, "
                                   "500ms, 2m or 1h, got \"soon\""},
        {"heartbeat_interval = -1", "[source] heartbeat_interval: expected a duration"},
        {"snapshot_workers = 0", "[source] snapshot_workers: expected a number from 1 to 64, got "
                                 "\"0\""},
        {"snapshot_workers = 65", "[source] snapshot_workers: expected a number from 1 to 64"},
        {"snapshot_workers = 2x", "[source] snapshot_workers: expected a number from 1 to 64"},
        {"snapshot = sometimes", "[source] snapshot: expected initial, never, always or "
                                 "initial_only, got \"sometimes\""},
        {"create_slot = maybe", "[source] create_slot: expected true or false"},
        {"slot = My-Slot", "[source] slot: expected a replication slot name: 1 to 63 lower-case "
                           "letters, digits or underscores, got \"My-Slot\""},
        {"slot =", "[source] slot: expected a replication slot name"},
        {"slot = a123456789b123456789c123456789d123456789e123456789f123456789g123",
         "[source] slot: expected a replication slot name"},
        {"publication =", "[source] publication: expected a publication name"},
        {"state_file =", "[source] state_file: expected a non-empty value, got \"\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_source_error(cases[i].line, 3, cases[i].rest);
    /* The limits themselves are accepted. */
    expect_source_ok("slot = a123456789b123456789c123456789d123456789e123456789f123456789g12");
    cr_expect_eq(strlen(cfg.slot), 63);
    ww_config_free(&cfg);
    expect_source_ok("max_inflight_bytes = 65536\nsnapshot_workers = 1\nstatus_interval = 1ms");
    cr_expect_eq(cfg.max_inflight_bytes, 65536);
    cr_expect_eq(cfg.status_interval_ms, 1);
}

Test(unit_config, errors_in_other_sections)
{
    static const struct {
        const char *text, *rest;
    } cases[] = {
        {"[sink]\ntype = ../evil\n", "[sink] type: expected a sink name such as file, kafka, "
                                     "redis or null"},
        {"[sink]\ntype = null\ntopic_prefix =\n", "[sink] topic_prefix: expected a non-empty"},
        {"[sink]\ntype = null\n[http]\nlisten = localhost\n", "[http] listen: expected host:port"},
        {"[sink]\ntype = null\n[http]\nlisten = h:70000\n", "[http] listen: expected host:port"},
        {"[sink]\ntype = null\n[log]\nlevel = loud\n", "[log] level: expected error, warn, info "
                                                       "or debug, got \"loud\""},
        {"[sink]\ntype = null\n[log]\nformat = xml\n", "[log] format: expected text or json"},
        {"[sink]\ntype = null\n[format]\ntemporal = unix\n", "[format] temporal: expected "
                                                             "debezium or iso8601"},
        {"[sink]\ntype = null\n[format]\ntransactions = sure\n", "[format] transactions: "
                                                                 "expected true or false"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "[source]\nconninfo = host=db\n%s", cases[i].text);
        int line = 0;
        for (const char *p = text; *p; p++)
            line += *p == '\n'; /* the bad key is the last line */
        expect_file_error(text, line, cases[i].rest);
    }
}

Test(unit_config, unknown_keys_suggest_or_list)
{
    expect_source_error("statusinterval = 5s", 3,
                        "[source] unknown key statusinterval; did you mean status_interval?");
    expect_source_error("slto = x", 3, "[source] unknown key slto; did you mean slot?");
    expect_source_error("topic_prefix = x", 3,
                        "[source] unknown key topic_prefix; topic_prefix belongs in [sink]");
    expect_source_error("colour = blue", 3,
                        "[source] unknown key colour; valid keys are conninfo, password_file, "
                        "slot, publication, tables,");
    expect_file_error("[source]\nconninfo = h\n[sink]\ntype = null\n[http]\nlissten = x:1\n", 6,
                      "[http] unknown key lissten; did you mean listen?");
    /* Sink sections take any key: the sink validates them. */
    cr_assert_eq(load(MINIMAL "[kafka]\nlinger.ms = 5\n[null]\nanything = 1\n", NULL), 0, "%s",
                 err);
    cr_expect_str_eq(value_of("kafka", "linger.ms"), "5");
    cr_expect_str_eq(value_of("null", "anything"), "1");
}

Test(unit_config, unknown_sections)
{
    expect_file_error(MINIMAL "[sorce]\nslot = x\n", 5,
                      "unknown section [sorce]; did you mean [source]? Valid sections are "
                      "source, sink, http, log, format, file, kafka, redis, null");
    expect_file_error(MINIMAL "\n[bogus]\n", 6,
                      "unknown section [bogus]; valid sections are source, sink, http, log, "
                      "format, file, kafka, redis, null");
}

Test(unit_config, duplicates_name_both_lines)
{
    expect_file_error("[source]\nconninfo = host=db\nslot = a\n\nslot = b\n[sink]\ntype = null\n",
                      5, "[source] slot is set twice, on lines 3 and 5");
    expect_file_error(MINIMAL "[kafka]\nacks = all\n[source]\n[kafka]\nacks = 1\n", 9,
                      "[kafka] acks is set twice, on lines 6 and 9");
}

Test(unit_config, syntax_errors_name_the_line)
{
    expect_file_error("[source]\nconninfo = host=db\njust words\n", 3,
                      "expected key = value, a [section] header or a comment");
    expect_file_error("[source\nconninfo = host=db\n", 1,
                      "malformed section header: expected [name]");
    expect_file_error("[source]\n[ ]\n", 2, "empty section name []");
    expect_file_error("slot = x\n[source]\n", 1, "key outside any section");
    expect_file_error("[source]\n= x\n", 2, "missing key name before '='");
    expect_file_error("[source]\nconninfo = x\nslot name = y\n", 3,
                      "[source] a key name cannot contain blanks; expected key = value");
    static const char nul[] = "[source]\nconninfo = a\0b\n";
    write_bytes(nul, sizeof(nul) - 1);
    cr_assert_eq(ww_config_load(path, NULL, &cfg, err, sizeof(err)), -EINVAL);
    cr_expect(strstr(err, ":2: the line holds a NUL byte"), "%s", err);
    char text[512];
    snprintf(text, sizeof(text), "[source]\n\nslot = %0250d\n", 0);
    expect_file_error(text, 3, "line longer than 198 characters");
}

Test(unit_config, missing_and_unreadable_files)
{
    cr_assert_eq(ww_config_load("/tmp/ww-no-such-dir/walwire.conf", NULL, &cfg, err, sizeof(err)),
                 -ENOENT);
    cr_expect_str_eq(err, "cannot open /tmp/ww-no-such-dir/walwire.conf: No such file or "
                          "directory");
    cr_assert_eq(ww_config_load("/tmp", NULL, &cfg, err, sizeof(err)), -EISDIR);
    cr_expect_str_eq(err, "cannot read /tmp: Is a directory");

    write_file(MINIMAL);
    cr_assert_eq(chmod(path, 0), 0);
    /* root reads anything: act as nobody for the load. */
    bool root = geteuid() == 0;
    if (root && seteuid(65534) != 0)
        cr_skip_test("running as root without CAP_SETUID: cannot test EACCES");
    int rc = ww_config_load(path, NULL, &cfg, err, sizeof(err));
    if (root)
        cr_assert_eq(seteuid(0), 0);
    cr_assert_eq(rc, -EACCES, "%s", err);
    char want[128];
    snprintf(want, sizeof(want), "cannot open %s: Permission denied", path);
    cr_expect_str_eq(err, want);
}

/* ---- environment -------------------------------------------------------- */

Test(unit_config, env_overrides_core_keys)
{
    char *env[] = {"PATH=/usr/bin",
                   "walwire_source_slot=ignored",
                   "WALWIRE_SOURCE_SNAPSHOT_WORKERS=8",
                   "WALWIRE_SOURCE_CONNINFO=host=env password=hunter2",
                   "WALWIRE_LOG_LEVEL=debug",
                   "WALWIRE_SINK_DIR=",
                   NULL};
    cr_assert_eq(load("[source]\nconninfo = host=file\nsnapshot_workers = 3\n[sink]\ntype = null\n"
                      "dir = /x\n",
                      env),
                 0, "%s", err);
    cr_expect_eq(cfg.snapshot_workers, 8);
    cr_expect_str_eq(cfg.conninfo, "host=env password=hunter2");
    cr_expect_eq(cfg.log_level, WW_LOG_DEBUG);
    cr_expect_null(cfg.sink_dir, "an empty variable overrides too");
    cr_expect_str_eq(cfg.slot, "walwire");
    const struct ww_config_section *s = ww_config_section(&cfg, "source");
    cr_assert_eq(s->nentries, 2, "overrides replace the file's entries");
    const struct ww_config_entry *e = ww_config_entry_get(s, "snapshot_workers");
    cr_expect_str_eq(e->origin, "WALWIRE_SOURCE_SNAPSHOT_WORKERS");
    cr_expect_eq(e->line, 0);
    cr_expect_str_eq(ww_config_section(&cfg, "log")->entries[0].origin, "WALWIRE_LOG_LEVEL");
}

Test(unit_config, env_only_configuration)
{
    char *env[] = {"WALWIRE_SOURCE_CONNINFO=host=db", "WALWIRE_SINK_TYPE=redis",
                   "WALWIRE_REDIS_URL=redis://:pw@r:6379/0", NULL};
    cr_assert_eq(ww_config_load(NULL, env, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_expect_null(cfg.path);
    cr_expect_str_eq(cfg.sink_type, "redis");
    cr_expect_str_eq(value_of("redis", "url"), "redis://:pw@r:6379/0");
    assert_defaults(&cfg);
}

Test(unit_config, env_error_names_the_variable)
{
    char *env[] = {"WALWIRE_SOURCE_SNAPSHOT_WORKERS=lots", NULL};
    cr_assert_eq(load(MINIMAL, env), -EINVAL);
    cr_expect_str_eq(err, "environment WALWIRE_SOURCE_SNAPSHOT_WORKERS: [source] "
                          "snapshot_workers: expected a number from 1 to 64, got \"lots\"");
    ww_config_free(&cfg);
    char *env2[] = {"WALWIRE_SOURCE_SLOTT=x", NULL};
    cr_assert_eq(load(MINIMAL, env2), -EINVAL);
    cr_expect_str_eq(err, "environment WALWIRE_SOURCE_SLOTT: [source] unknown key slott; did "
                          "you mean slot?");
    ww_config_free(&cfg);
    char *env3[] = {"WALWIRE_SOURCE=x", NULL};
    cr_assert_eq(load(MINIMAL, env3), -EINVAL);
    cr_expect(strstr(err, "environment WALWIRE_SOURCE: expected WALWIRE_<SECTION>_<KEY>"), "%s",
              err);
}

Test(unit_config, env_unknown_section)
{
    char *env[] = {"WALWIRE_FOO_BAR=1", NULL};
    cr_assert_eq(load(MINIMAL, env), -EINVAL);
    cr_expect_str_eq(err, "environment WALWIRE_FOO_BAR: unknown section [foo]; valid sections "
                          "are source, sink, http, log, format, file, kafka, redis, null");
}

Test(unit_config, env_sink_sections)
{
    char *env[] = {"WALWIRE_KAFKA_BOOTSTRAP_SERVERS=k1:9092",
                   "WALWIRE_KAFKA_SASL_USERNAME=svc",
                   "WALWIRE_KAFKA_TOPIC=t.{table}",
                   "WALWIRE_FILE_FSYNC=always",
                   "WALWIRE_FILE_SOME_OPTION=v",
                   "WALWIRE_NULL_X=1",
                   NULL};
    cr_assert_eq(load(MINIMAL "[kafka]\nbootstrap.servers = file:9092\nacks = all\n", env), 0, "%s",
                 err);
    const struct ww_config_section *k = ww_config_section(&cfg, "kafka");
    cr_assert_eq(k->nentries, 4);
    cr_expect_str_eq(value_of("kafka", "bootstrap.servers"), "k1:9092", "file key overridden");
    cr_expect_str_eq(ww_config_entry_get(k, "bootstrap.servers")->origin,
                     "WALWIRE_KAFKA_BOOTSTRAP_SERVERS");
    cr_expect_str_eq(value_of("kafka", "sasl.username"), "svc", "new key: '_' becomes '.'");
    cr_expect_str_eq(value_of("kafka", "topic"), "t.{table}");
    cr_expect_str_eq(value_of("kafka", "acks"), "all");
    cr_expect_str_eq(value_of("file", "fsync"), "always");
    cr_expect_str_eq(value_of("file", "some_option"), "v", "file keys keep their '_'");
    cr_expect_str_eq(value_of("null", "x"), "1");
}

/* ---- secrets ------------------------------------------------------------ */

Test(unit_config, secrets_never_reach_messages)
{
    /* Each of these fails on a line or variable that holds "hunter2". */
    const char *files[] = {
        "[source]\nconninfo = host=db password=hunter2\nconninfo = password=hunter2\n",
        "[source]\npassword=hunter2 host=db\n",
        "[source]\nconninfo password hunter2\n",
        "[kafka]\nsasl.password hunter2\n",
        /* inih splits at ':' too: these read as keys "hunter2 password" and
         * "url redis"; the files are otherwise valid. */
        MINIMAL "[source]\nhunter2 password: x\n",
        MINIMAL "[redis]\nurl redis://:hunter2@r\n",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cr_assert_lt(load(files[i], NULL), 0, "%s", files[i]);
        cr_expect_null(strstr(err, "hunter2"), "leaked: %s", err);
    }
    char text[512];
    snprintf(text, sizeof(text), "[source]\nconninfo = host=db password=hunter2 %0200d\n", 0);
    cr_assert_eq(load(text, NULL), -EINVAL);
    cr_expect(strstr(err, "line longer than"), "%s", err);
    cr_expect_null(strstr(err, "hunter2"), "leaked: %s", err);

    char *env[] = {"WALWIRE_SOURCE_CONNINFO=", "WALWIRE_REDIS_URL=redis://:hunter2@r", NULL};
    cr_assert_eq(load("[sink]\ntype = redis\n", env), -EINVAL);
    cr_expect(strstr(err, "environment WALWIRE_SOURCE_CONNINFO: [source] conninfo is empty"), "%s",
              err);
}

Test(unit_config, secret_keys)
{
    cr_expect(ww_key_is_secret("source", "conninfo"));
    cr_expect(ww_key_is_secret("redis", "url"));
    cr_expect(ww_key_is_secret("kafka", "ssl.key.password"));
    cr_expect(ww_key_is_secret("kafka", "sasl.username"));
    cr_expect(ww_key_is_secret("kafka", "sasl.oauthbearer.client.secret"));
    cr_expect(ww_key_is_secret("redis", "Password"));
    cr_expect(ww_key_is_secret("file", "api_key"));
    cr_expect_not(ww_key_is_secret("source", "password_file"), "a path, not a secret");
    cr_expect_not(ww_key_is_secret("source", "slot"));
    cr_expect_not(ww_key_is_secret("kafka", "bootstrap.servers"));
    cr_expect_not(ww_key_is_secret("redis", "stream"));
    cr_expect_not(ww_key_is_secret("file", "path"));
}

/* ---- value parsers ------------------------------------------------------ */

Test(unit_config, parse_size_table)
{
    static const struct {
        const char *s;
        uint64_t v;
    } ok[] = {
        {"0", 0},
        {"1048576", 1048576},
        {"100B", 100},
        {"512kB", 512 << 10},
        {"512KB", 512 << 10},
        {"1K", 1024},
        {"64MB", 64ull << 20},
        {"64MiB", 64ull << 20},
        {"64 mb", 64ull << 20},
        {"3M", 3ull << 20},
        {"1GB", 1ull << 30},
        {"2G", 2ull << 30},
        {"1GiB", 1ull << 30},
        {"1TB", 1ull << 40},
        {"18446744073709551615", UINT64_MAX},
        {"16777215TB", 16777215ull << 40},
    };
    static const char *const bad[] = {
        "",
        "lots",
        "MB",
        "-1",
        "+1",
        "1.5MB",
        "1 M B",
        "64XB",
        "99999999999999999999GB",
        "18446744073709551616",
        "17179869184GB",
        "16777216TB",
        " ",
        "1MB1",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 7;
        cr_expect_eq(ww_parse_size(ok[i].s, &v), 0, "%s", ok[i].s);
        cr_expect_eq(v, ok[i].v, "%s -> %llu", ok[i].s, (unsigned long long)v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 7;
        cr_expect_eq(ww_parse_size(bad[i], &v), -EINVAL, "\"%s\" accepted", bad[i]);
        cr_expect_eq(v, 7, "output untouched on error");
    }
    cr_expect_eq(ww_parse_size(NULL, &(uint64_t){0}), -EINVAL);
}

Test(unit_config, parse_duration_table)
{
    static const struct {
        const char *s;
        uint64_t ms;
    } ok[] = {
        {"0", 0},
        {"10", 10000},
        {"10s", 10000},
        {"500ms", 500},
        {"2m", 120000},
        {"2min", 120000},
        {"1h", 3600000},
        {"1d", 86400000},
        {"5 S", 5000},
        {"3sec", 3000},
        {"18446744073709551615ms", UINT64_MAX},
    };
    static const char *const bad[] = {
        "",
        "soon",
        "s",
        "-1s",
        "1.5s",
        "10x",
        "10 s s",
        "99999999999999999999s",
        "18446744073709552s",
        "18446744073709552",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 7;
        cr_expect_eq(ww_parse_duration_ms(ok[i].s, &v), 0, "%s", ok[i].s);
        cr_expect_eq(v, ok[i].ms, "%s -> %llu", ok[i].s, (unsigned long long)v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 7;
        cr_expect_eq(ww_parse_duration_ms(bad[i], &v), -EINVAL, "\"%s\" accepted", bad[i]);
        cr_expect_eq(v, 7);
    }
}

Test(unit_config, parse_bool_table)
{
    static const char *const yes[] = {"true", "TRUE", "on", "yes", "Yes", "1"};
    static const char *const no[] = {"false", "off", "OFF", "no", "0"};
    static const char *const bad[] = {"", "y", "n", "2", "truee", "enabled", " true"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        bool b = false;
        cr_expect_eq(ww_parse_bool(yes[i], &b), 0, "%s", yes[i]);
        cr_expect(b, "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        bool b = true;
        cr_expect_eq(ww_parse_bool(no[i], &b), 0, "%s", no[i]);
        cr_expect_not(b, "%s", no[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool b = true;
        cr_expect_eq(ww_parse_bool(bad[i], &b), -EINVAL, "\"%s\" accepted", bad[i]);
        cr_expect(b, "output untouched on error");
    }
}

/* ---- freeing ------------------------------------------------------------ */

Test(unit_config, free_is_safe_on_zeroed_and_failed)
{
    struct ww_config zero = {0};
    ww_config_free(&zero);
    ww_config_free(NULL);
    cr_assert_eq(load(MINIMAL "[log]\nlevel = loud\n", NULL), -EINVAL);
    struct ww_config zeroed = {0};
    cr_expect_eq(memcmp(&cfg, &zeroed, sizeof(cfg)), 0, "a failed load leaves cfg zeroed");
    ww_config_free(&cfg);
    cr_assert_eq(load(MINIMAL, NULL), 0, "%s", err);
    ww_config_free(&cfg);
    cr_expect_null(cfg.conninfo);
    ww_config_free(&cfg); /* twice: still fine */
}

Test(unit_config, small_error_buffer_is_truncated_not_overrun)
{
    char small[16];
    memset(small, 'x', sizeof(small));
    write_file("[source]\n");
    cr_assert_eq(ww_config_load(path, NULL, &cfg, small, 8), -EINVAL);
    cr_expect_eq(strlen(small), 7);
    cr_expect_eq(small[8], 'x');
    cr_assert_eq(ww_config_load(path, NULL, &cfg, NULL, 0), -EINVAL);
}
