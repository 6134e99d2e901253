#define _GNU_SOURCE
#include "pgserver.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

/* Run argv (as the postgres user when we are root: initdb and postgres
 * refuse root) and wait up to 60 s; returns the exit code. */
static int run_cmd(const char *const *args, const char *log)
{
    const char *argv[24];
    size_t k = 0;
    if (geteuid() == 0) {
        argv[k++] = "runuser";
        argv[k++] = "-u";
        argv[k++] = "postgres";
        argv[k++] = "--";
    }
    for (size_t i = 0; args[i]; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert(rc == 0, "cannot run %s: %s", argv[0], strerror(rc));
    int status = 0;
    bool done = WWT_POLL_UNTIL(60000, waitpid(pid, &status, WNOHANG) == pid);
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("%s did not finish within 60 s", args[0]);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    socklen_t len = sizeof a;
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

void wwt_server_start(struct wwt_server *s, const char *settings)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/walwire-test-pg-XXXXXX");
    cr_assert(mkdtemp(s->dir), "mkdtemp: %s", strerror(errno));
    snprintf(s->data, sizeof s->data, "%s/data", s->dir);
    snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        cr_assert(pw, "no postgres user to run a second server as");
        cr_assert(chown(s->dir, pw->pw_uid, pw->pw_gid) == 0, "chown: %s", strerror(errno));
    }
    char initdb[128], pg_ctl[128];
    snprintf(initdb, sizeof initdb, "%s/initdb", wwt_env("WW_TEST_PGBIN"));
    snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", wwt_env("WW_TEST_PGBIN"));
    char initdb_log[128];
    snprintf(initdb_log, sizeof initdb_log, "%s/initdb.log", s->dir);
    const char *init[] = {initdb,     "-D",
                          s->data,    "-U",
                          "postgres", "--auth=trust",
                          "-N",       "-E",
                          "UTF8",     "--locale=C.UTF-8",
                          NULL};
    cr_assert_eq(run_cmd(init, initdb_log), 0, "initdb failed; see %s", initdb_log);
    s->port = free_port();
    char opts[512];
    snprintf(opts, sizeof opts,
             "-c port=%d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s "
             "-c fsync=off %s",
             s->port, s->dir, settings);
    const char *start[] = {pg_ctl, "-D", s->data, "-l", s->log,  "-w",
                           "-t",   "60", "-o",    opts, "start", NULL};
    s->running = true; /* stop it even if pg_ctl gave up waiting */
    cr_assert_eq(run_cmd(start, initdb_log), 0, "the second server did not start; see %s", s->log);
}

void wwt_server_stop(struct wwt_server *s)
{
    if (!s->dir[0])
        return;
    if (s->running) {
        char pg_ctl[128], log[128];
        snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", wwt_env("WW_TEST_PGBIN"));
        snprintf(log, sizeof log, "%s/stop.log", s->dir);
        const char *stop[] = {pg_ctl, "-D", s->data, "-m", "immediate", "-w", "stop", NULL};
        run_cmd(stop, log);
        s->running = false;
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", s->dir);
    memset(s, 0, sizeof *s);
}

PGconn *wwt_server_connect(const struct wwt_server *s)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *kw[] = {"host", "port", "user", "dbname", NULL};
    const char *val[] = {"127.0.0.1", port, "postgres", "postgres", NULL};
    PGconn *c = PQconnectdbParams(kw, val, 0);
    cr_assert(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}
