/*
 * walwire: stream every committed change of a PostgreSQL database to a sink.
 *
 *   walwire run   -c FILE     snapshot if needed, then stream until SIGTERM
 *   walwire check -c FILE     preflight, a table of results (--json)
 *   walwire version
 *
 * Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or configuration
 * error, 3 preflight failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "runner.h"
#include "ww_build.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: walwire run   -c FILE     snapshot if needed, then stream until SIGTERM\n"
            "       walwire check -c FILE [--json]\n"
            "                                 preflight: settings, privileges, publication,\n"
            "                                 slot, keys, sink; exit 0 when ready, 3 when not\n"
            "       walwire version\n"
            "\n"
            "Every key of FILE can be overridden by an environment variable\n"
            "WALWIRE_<SECTION>_<KEY>, e.g. WALWIRE_SOURCE_CONNINFO. See README.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("walwire %s\n", WW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check") != 0) {
        fprintf(stderr, "walwire: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }

    const char *path = NULL;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        } else if (strcmp(argv[i], "--json") == 0 && strcmp(cmd, "check") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "walwire %s: unexpected argument \"%s\"\n", cmd, argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "walwire %s: missing -c FILE (the configuration file)\n", cmd);
        usage(stderr);
        return 2;
    }

    /* A broken pipe on stdout (file sink with path = -) is an error to
     * handle, not a reason to die silently. */
    signal(SIGPIPE, SIG_IGN);
    /* SIGINT/SIGTERM wait until `run` handles them (runner.c unblocks them
     * once its handlers are in place), so a stop that comes during startup
     * is still a clean shutdown. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (strcmp(cmd, "run") == 0)
        sigprocmask(SIG_BLOCK, &stop_signals, NULL);

    struct ww_config cfg;
    char err[1024];
    if (ww_config_load(path, environ, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "walwire: %s\n", err);
        return 2;
    }
    ww_log_setup(cfg.log_level, (enum ww_log_format)cfg.log_format);

    int code = strcmp(cmd, "run") == 0 ? ww_run(&cfg) : ww_check(&cfg, json);
    ww_config_free(&cfg);
    return code;
}
