/*
 * Child processes for deployments: placeholder substitution in an argv, the
 * GITGATE_* environment, and runs started with fork/exec in their own process
 * group, stdin /dev/null, stdout and stderr captured into a size-capped log
 * file, a timeout (SIGTERM to the group, SIGKILL after a grace period), and
 * reaping through one SIGCHLD event on the daemon's loop.
 */
#ifndef GITGATED_RUNNER_H
#define GITGATED_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

/* The PATH a deployment's command starts with (a target's env may replace it). */
#define GG_RUN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The values a deployment's command may use. NULL reads as "". */
typedef struct {
	const char *after, *before, *ref, *repo, *delivery, *target, *source, *pusher;
	const char *replica; /* the replica running it (its replica: name) */
	/* Checkout targets only: with dir NULL, "{dir}" is left as written. */
	const char *dir;
	int64_t deployment;
} gg_runner_vars;

/* What "{branch}" means: the ref without refs/heads/ or refs/tags/. Borrowed from ref. */
const char *gg_runner_branch(const char *ref);

/*
 * Replace every known placeholder in one argv element; unknown ones such as
 * "{x}" stay as written. The values are copied verbatim: no quoting, since the
 * result is an argv element and never reaches a shell. Returns an allocated
 * string the caller frees.
 */
char *gg_runner_expand(const char *tmpl, const gg_runner_vars *v);

/*
 * Expand every element of a NULL-terminated argv; *out is NULL-terminated, free with
 * gg_runner_strv_free. An element after argv[0] that does not start with '-' as
 * written but would once expanded (a value such as a branch "--upload-pack=...")
 * is refused: -1 with an allocated message in *err and *out NULL.
 */
int gg_runner_expand_argv(char ***out, const char *const *argv, const gg_runner_vars *v,
                          char **err);

/*
 * The child's environment: a fixed PATH, then the target's env (n pairs of
 * keys[i]=vals[i], which may override PATH), then the GITGATE_* variables,
 * which always win. Keys that are empty or hold '=' are skipped. *out is
 * NULL-terminated "KEY=VALUE" strings, free with gg_runner_strv_free.
 */
void gg_runner_build_env(char ***out, const gg_runner_vars *v, const char *const *keys,
                         const char *const *vals, size_t n);
void gg_runner_strv_free(char **v);

/* How a run ended. */
typedef enum {
	GG_RUN_EXITED,    /* exited by itself (status holds the code) */
	GG_RUN_SIGNALED,  /* killed by a signal nobody here sent */
	GG_RUN_TIMED_OUT, /* stopped because it ran over its timeout */
	GG_RUN_STOPPED,   /* stopped on request (gg_run_stop) */
} gg_run_end;

typedef struct gg_runner gg_runner;
typedef struct gg_run gg_run;

/*
 * Called once when a run's process has been reaped and its output written
 * out. code is the exit code (GG_RUN_EXITED) or the signal number. The run is
 * freed right after the callback returns.
 */
typedef void (*gg_run_done_fn)(gg_run *r, gg_run_end how, int code, void *arg);

typedef struct {
	const char *const *argv; /* argv[0] is a path, or a name looked up in the child's PATH */
	const char *const *envp;
	const char *cwd;        /* NULL: "/" */
	const char *log_path;   /* output goes here, appended to; created 0640 */
	uint64_t log_max;       /* 0: no cap */
	uint64_t timeout_ms;    /* 0: none */
	uint64_t kill_grace_ms; /* between SIGTERM and SIGKILL; 0: GG_RUN_KILL_GRACE_MS */
	unsigned nice;          /* added to the daemon's niceness in the child */
} gg_run_spec;

#define GG_RUN_KILL_GRACE_MS 5000

/*
 * One runner per event loop: owns the SIGCHLD event and the live runs. *out is
 * owned by the caller (gg_runner_free, which kills what still runs).
 */
int gg_runner_new(gg_runner **out, struct event_base *base);
void gg_runner_free(gg_runner *rn);

/*
 * Start a child. On success *out is borrowed (it lives until done has been
 * called) and 0 is returned; on failure -1 with an allocated message in *err
 * (the caller frees it), and nothing was started.
 */
int gg_run_start(gg_run **out, gg_runner *rn, const gg_run_spec *spec, gg_run_done_fn done,
                 void *arg, char **err);
/* SIGTERM to the run's process group, SIGKILL after the grace period; ends GG_RUN_STOPPED. */
void gg_run_stop(gg_run *r);
pid_t gg_run_pid(const gg_run *r);
/* Append a line to the run's log, as the daemon (e.g. "exited 1 after 2.1s"). */
void gg_run_log(gg_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t gg_runner_count(const gg_runner *rn);

/* Append a line to a log file outside of a run (e.g. before the first run starts). */
void gg_runner_log_line(const char *log_path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
