/*
 * File sink: dlopens the built sink_file.so and drives it with a fake
 * struct ww_host on a real libuv loop, writing real files in a mkdtemp
 * directory (and /dev/full, a small tmpfs, stdout).
 *
 * Flushes are observed from outside the sink: acks of one flush are
 * delivered together, before the next flush starts writing, so every ack of
 * a flush sees the same file size and each flush shows one distinct size.
 */
#include "file_sink_harness.h"

TestSuite(file_sink, .init = setup, .fini = teardown);

/* ---- tests: output and acks ---- */

Test(file_sink, records_land_as_lines_in_order_and_ack_after_the_bytes)
{
    ack_file = outpath;
    open_sink(outpath, NULL); /* default fsync=batch */
    for (int i = 0; i < 20; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
        if (i % 7 == 0)
            uv_run(&loop, UV_RUN_NOWAIT); /* let some flushes finish between writes */
    }
    wait_acks(20);
    assert_acked(0, 20, 0);
    for (int i = 0; i < 20; i++) {
        cr_assert(recs[i].line_was_there, "record %d acked before it was in the file", i);
        cr_assert_geq(recs[i].size_at_ack, (long)recs[i].end);
    }
    close_sink();
    assert_output(outpath, "", 20);
    cr_assert(strstr(fh.log, "fsync=batch"), "%s", fh.log);
}

Test(file_sink, batch_groups_many_records_per_flush)
{
    ack_file = outpath;
    open_sink(outpath, "batch");
    for (int i = 0; i < 1000; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    cr_assert_eq(ack_total, 0, "no ack before the loop runs");
    wait_acks(1000);
    assert_acked(0, 1000, 0);
    int flushes = count_flushes(1000);
    cr_log_info("batch: 1000 records in %d flushes", flushes);
    cr_assert_geq(flushes, 1);
    cr_assert_leq(flushes, 10, "1000 queued records took %d flushes", flushes);
    for (int i = 0; i < 1000; i++)
        cr_assert(recs[i].line_was_there, "record %d", i);
    close_sink();
    assert_output(outpath, "", 1000);
}

Test(file_sink, always_flushes_one_record_at_a_time)
{
    ack_file = outpath;
    open_sink(outpath, "always");
    for (int i = 0; i < 25; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(25);
    assert_acked(0, 25, 0);
    cr_assert_eq(count_flushes(25), 25);
    /* Each ack sees the file end exactly after its own record. */
    for (int i = 0; i < 25; i++)
        cr_assert_eq(recs[i].size_at_ack, (long)recs[i].end, "record %d", i);
    close_sink();
    assert_output(outpath, "", 25);
}

Test(file_sink, never_writes_and_groups_without_sync)
{
    ack_file = outpath;
    open_sink(outpath, "never");
    for (int i = 0; i < 300; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(300);
    assert_acked(0, 300, 0);
    cr_assert_leq(count_flushes(300), 10);
    for (int i = 0; i < 300; i++)
        cr_assert(recs[i].line_was_there, "record %d", i);
    close_sink();
    assert_output(outpath, "", 300);
}

Test(file_sink, appends_to_an_existing_file_and_cuts_a_torn_last_line)
{
    FILE *f = fopen(outpath, "w");
    cr_assert_not_null(f);
    fputs("{\"key\":null,\"value\":{}}\n{\"key\":{\"id\":9},\"va", f); /* torn */
    fclose(f);
    /* The torn part was never acked: it is cut, whole lines stay. */
    const char *prefix = "{\"key\":null,\"value\":{}}\n";

    out_bytes = strlen(prefix);
    ack_file = outpath;
    open_sink(outpath, "batch");
    cr_assert(strstr(fh.log, "incomplete line"), "%s", fh.log);
    for (int i = 0; i < 3; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(3);
    assert_acked(0, 3, 0);
    for (int i = 0; i < 3; i++)
        cr_assert(recs[i].line_was_there);
    close_sink();
    assert_output(outpath, prefix, 3);
}

/* ---- tests: bounded memory ---- */

Test(file_sink, full_buffer_gives_eagain_then_resume)
{
    ack_file = outpath;
    fh.host.max_inflight_bytes = 4096;
    open_sink(outpath, "batch");
    make_rec(0, 0);
    size_t len = strlen(recs[0].line);

    /* Record 0 goes straight to a flush; the rest fill up to 4096 bytes. */
    int accepted = 0, rc = 0;
    while (accepted < 200) {
        make_rec(accepted, 0);
        rc = write_rec(accepted);
        if (rc != 0)
            break;
        accepted++;
    }
    cr_assert_eq(rc, -EAGAIN);
    size_t fill = out_bytes - strlen(recs[0].line); /* bytes after record 0 */
    cr_assert_leq(fill, 4096, "fill queue holds %zu bytes, limit 4096", fill);
    cr_assert_gt(fill + strlen(recs[accepted].line), 4096, "refused although %zu + %zu fits", fill,
                 strlen(recs[accepted].line));
    cr_assert_geq(accepted, (int)(4096 / len), "accepted %d records of %zu bytes", accepted, len);
    cr_assert_eq(fh.resumes, 0, "no resume before there is room");
    cr_assert_eq(write_rec(accepted), -EAGAIN, "still full");

    run_until(resumed, "resume");
    cr_assert_not(callback_inside_write);
    /* Core offers the same change again. */
    cr_assert_eq(write_rec(accepted), 0);
    accepted++;
    wait_acks(accepted);
    assert_acked(0, accepted, 0);
    close_sink();
    assert_output(outpath, "", accepted);
}

Test(file_sink, one_record_larger_than_the_limit_is_accepted_into_an_empty_buffer)
{
    ack_file = outpath;
    fh.host.max_inflight_bytes = 1024;
    open_sink(outpath, "batch");
    make_rec(0, 0);
    make_rec(1, 8000); /* far beyond 1024 bytes */
    make_rec(2, 0);
    cr_assert_eq(write_rec(0), 0); /* flushing */
    cr_assert_eq(write_rec(1), 0); /* alone in the empty fill queue */
    cr_assert_eq(write_rec(2), -EAGAIN);
    run_until(resumed, "resume");
    cr_assert_eq(write_rec(2), 0);
    wait_acks(3);
    assert_acked(0, 3, 0);
    close_sink();
    assert_output(outpath, "", 3);
}

/* ---- tests: errors ---- */

Test(file_sink, write_error_acks_every_record_with_the_errno)
{
    open_sink("/dev/full", "batch");
    for (int i = 0; i < 5; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(5);
    assert_acked(0, 5, -ENOSPC);
    cr_assert(strstr(fh.log, "/dev/full"), "%s", fh.log);
    cr_assert(strstr(fh.log, strerror(ENOSPC)), "%s", fh.log);
    /* Broken for good: further writes get the error, and no ack. */
    make_rec(5, 0);
    cr_assert_eq(write_rec(5), -ENOSPC);
    close_sink();
    cr_assert_eq(ack_total, 5);
    cr_assert_eq(fh.resumes, 0);
}

Test(file_sink, full_tmpfs_acks_the_failed_flush_with_enospc)
{
    snprintf(mountdir, sizeof(mountdir), "%s/small", tmpdir);
    cr_assert_eq(mkdir(mountdir, 0755), 0);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=64k tmpfs '%s' 2>/dev/null", mountdir);
    if (geteuid() != 0 || system(cmd) != 0) {
        mountdir[0] = '\0';
        cr_log_warn("cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): "
                    "the /dev/full test covers ENOSPC");
        cr_skip_test("cannot mount a 64k tmpfs here");
    }
    char path[400];
    snprintf(path, sizeof(path), "%s/out.jsonl", mountdir);

    ack_file = path;
    open_sink(path, "batch");
    /* 20 records of ~8 KiB: record 0 fits, the flush of the others (~150 KiB)
     * runs out of space part way. */
    for (int i = 0; i < 20; i++) {
        make_rec(i, 8000);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(20);
    assert_acked(0, 1, 0);
    assert_acked(1, 20, -ENOSPC);
    cr_assert(strstr(fh.log, path), "%s", fh.log);
    cr_assert(strstr(fh.log, strerror(ENOSPC)), "%s", fh.log);
    close_sink();
}

Test(file_sink, close_waits_for_the_flush_and_cancels_the_rest)
{
    ack_file = outpath;
    open_sink(outpath, "batch");
    for (int i = 0; i < 4; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    /* Record 0 is being flushed, 1..3 wait in the fill queue. */
    ops->close(sink, on_done, &done_calls);
    cr_assert_eq(done_calls, 0, "done before the running flush ended");
    run_until(done_reached, "done");
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(acks_at_done, 4, "every ack before done");
    assert_acked(0, 1, 0);
    cr_assert(recs[0].line_was_there);
    assert_acked(1, 4, -ECANCELED);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(ack_total, 4);
    assert_output(outpath, "", 1);
}

Test(file_sink, close_during_a_failing_flush)
{
    open_sink("/dev/full", "always");
    for (int i = 0; i < 3; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    ops->close(sink, on_done, &done_calls);
    run_until(done_reached, "done");
    cr_assert_eq(done_calls, 1);
    assert_acked(0, 1, -ENOSPC);
    assert_acked(1, 3, -ECANCELED);
    cr_assert_eq(acks_at_done, 3);
}

Test(file_sink, close_when_idle_calls_done_once)
{
    open_sink(outpath, NULL);
    close_sink();
    cr_assert_eq(ack_total, 0);
}

/* ---- tests: configuration ---- */

Test(file_sink, unknown_key_is_a_config_error)
{
    fh.keys[0] = "path";
    fh.vals[0] = outpath;
    fh.keys[1] = "pth";
    fh.vals[1] = "/tmp/x";
    fh.nkeys = 2;
    cr_assert_eq(ops->open(&fh.host, &sink), -EINVAL);
    cr_assert_eq(fh.config_errors, 1);
    cr_assert_str_eq(fh.error_key, "pth");
    cr_assert_str_eq(fh.error_msg, "unknown key; valid keys: path, fsync");
    cr_assert_neq(access(outpath, F_OK), 0, "nothing is created on a config error");
}

Test(file_sink, bad_fsync_value_is_a_config_error)
{
    set_config(outpath, "sometimes");
    cr_assert_eq(ops->open(&fh.host, &sink), -EINVAL);
    cr_assert_str_eq(fh.error_key, "fsync");
    cr_assert(strstr(fh.error_msg, "always, batch or never"), "%s", fh.error_msg);
    cr_assert(strstr(fh.error_msg, "sometimes"), "%s", fh.error_msg);
}

Test(file_sink, open_error_names_the_path_and_the_reason)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/no/such/dir/out.jsonl", tmpdir);
    set_config(path, NULL);
    cr_assert_eq(ops->open(&fh.host, &sink), -ENOENT);
    cr_assert(strstr(fh.log, path), "%s", fh.log);
    cr_assert(strstr(fh.log, strerror(ENOENT)), "%s", fh.log);
}

/* ---- tests: stdout and probe ---- */

Test(file_sink, dash_writes_to_stdout_and_leaves_it_open)
{
    stdout_to_file(outpath);

    ack_file = outpath;
    open_sink("-", "batch");
    for (int i = 0; i < 10; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(10);
    assert_acked(0, 10, 0);
    for (int i = 0; i < 10; i++)
        cr_assert(recs[i].line_was_there, "record %d", i);
    close_sink();
    cr_assert_neq(fcntl(STDOUT_FILENO, F_GETFD), -1, "the sink closed stdout");
    assert_output(outpath, "", 10);
}

Test(file_sink, stdout_pipe_is_written_without_fdatasync)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    close(p[1]);
    pipe_rd = p[0];
    signal(SIGPIPE, SIG_IGN);

    open_sink("-", "always"); /* fdatasync on a pipe would fail with EINVAL */
    cr_assert(strstr(fh.log, "not a regular file"), "%s", fh.log);
    for (int i = 0; i < 5; i++) {
        make_rec(i, 0);
        cr_assert_eq(write_rec(i), 0);
    }
    wait_acks(5);
    assert_acked(0, 5, 0);
    close_sink();

    char buf[8192];
    size_t n = 0;
    while (n < out_bytes) {
        ssize_t r = read(pipe_rd, buf + n, sizeof(buf) - n);
        cr_assert_gt(r, 0);
        n += (size_t)r;
    }
    cr_assert_eq(n, out_bytes);
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        size_t l = strlen(recs[i].line);
        cr_assert_eq(memcmp(buf + off, recs[i].line, l), 0, "record %d", i);
        off += l;
    }
}

/* What came through the pipe on stdout, drained while the loop runs. */
static char *piped; /* out_bytes long */
static size_t piped_len;
static int piped_too_much;

static int drain_pipe_until_all_acked(void)
{
    char buf[4096];
    ssize_t r;
    while ((r = read(pipe_rd, buf, sizeof(buf))) > 0) {
        if (piped_len + (size_t)r > out_bytes) {
            piped_too_much = 1;
            return 1;
        }
        memcpy(piped + piped_len, buf, (size_t)r);
        piped_len += (size_t)r;
    }
    return ack_total >= want_acks;
}

Test(file_sink, nonblocking_stdout_gets_short_writes_finished)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    /* A non-blocking stdout (as a parent may leave it) and a reader that
     * is slower than the writer: writev stops short and with EAGAIN. */
    cr_assert_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    close(p[1]);
    pipe_rd = p[0];

    open_sink("-", "batch");
    for (int i = 0; i < 40; i++) {
        make_rec(i, 7000 + (size_t)i * 13); /* ~290 KiB, pipes hold 64 KiB */
        cr_assert_eq(write_rec(i), 0);
    }
    piped = malloc(out_bytes);
    piped_len = 0;
    want_acks = 40;
    run_until(drain_pipe_until_all_acked, "acks while draining the pipe");
    cr_assert_not(piped_too_much, "more bytes than were written");
    assert_acked(0, 40, 0);
    drain_pipe_until_all_acked();
    cr_assert_not(piped_too_much, "more bytes than were written");
    cr_assert_eq(piped_len, out_bytes);
    size_t off = 0;
    for (int i = 0; i < 40; i++) {
        size_t l = strlen(recs[i].line);
        cr_assert_eq(memcmp(piped + off, recs[i].line, l), 0, "record %d", i);
        off += l;
    }
    close_sink();
    free(piped);
}

Test(file_sink, path_defaults_to_stdout)
{
    stdout_to_file(outpath);

    ack_file = outpath;
    open_sink(NULL, NULL); /* [file] absent: path -, fsync batch */
    cr_assert(strstr(fh.log, "appending to stdout, fsync=batch"), "%s", fh.log);
    make_rec(0, 0);
    cr_assert_eq(write_rec(0), 0);
    wait_acks(1);
    assert_acked(0, 1, 0);
    cr_assert(recs[0].line_was_there);
    close_sink();
    assert_output(outpath, "", 1);
}

static int probe_calls, probe_status;
static char probe_detail[512];

static void on_probe(void *arg, int status, const char *detail)
{
    (void)arg;
    probe_calls++;
    probe_status = status;
    snprintf(probe_detail, sizeof(probe_detail), "%s", detail);
}

Test(file_sink, probe_describes_the_output)
{
    cr_assert_not_null(ops->probe);
    open_sink(outpath, NULL);
    ops->probe(sink, on_probe, NULL);
    cr_assert_eq(probe_calls, 1);
    cr_assert_eq(probe_status, 0);
    char want[400];
    snprintf(want, sizeof(want), "file %s, fsync=batch", outpath);
    cr_assert_str_eq(probe_detail, want);
    close_sink();
}
