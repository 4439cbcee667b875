/*
 * Deployment child processes. Everything the child needs (argv, environment,
 * the resolved program path, the descriptors) is prepared before vfork(), so
 * the child only calls async-signal-safe functions until execve: the daemon
 * may hold libevent and SQLite state that a forked copy must never touch.
 */
#include "runner.h"

#include "statedir.h"

#include "gitgate/util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_READ_CHUNK 65536
#define RUN_LOG_MARKER                                                                             \
	"\n[... gitgated: output truncated, see the head above and the tail below ...]\n"

struct gg_run {
	gg_runner *rn;
	gg_run *next, *prev;
	pid_t pid;
	int out_fd; /* read end of the child's stdout/stderr, -1 once closed */
	struct event *out_ev;
	struct event *timeout_ev;
	struct event *kill_ev;
	int log_fd;
	char *log_path;
	uint64_t log_max;
	uint64_t log_size;
	uint64_t
	    head_len; /* bytes at the start of the log kept across compactions; 0 until the first */
	uint64_t kill_grace_ms;
	bool timed_out, stopping;
	int wstatus;
	gg_run_done_fn done;
	void *arg;
};

struct gg_runner {
	struct event_base *base;
	struct event *sigchld;
	gg_run *runs;
	size_t n;
};

const char *gg_runner_branch(const char *ref)
{
	if (ref == NULL)
		return "";
	if (!strncmp(ref, "refs/heads/", 11))
		return ref + 11;
	if (!strncmp(ref, "refs/tags/", 10))
		return ref + 10;
	return ref;
}

static const char *var_value(const gg_runner_vars *v, const char *name, size_t len, bool *known)
{
	static const struct {
		const char *name;
		size_t off;
	} vars[] = {
	    {"after", offsetof(gg_runner_vars, after)},
	    {"before", offsetof(gg_runner_vars, before)},
	    {"ref", offsetof(gg_runner_vars, ref)},
	    {"repo", offsetof(gg_runner_vars, repo)},
	    {"delivery", offsetof(gg_runner_vars, delivery)},
	    {"target", offsetof(gg_runner_vars, target)},
	    {"source", offsetof(gg_runner_vars, source)},
	    {"pusher", offsetof(gg_runner_vars, pusher)},
	    {"replica", offsetof(gg_runner_vars, replica)},
	    {"dir", offsetof(gg_runner_vars, dir)},
	};
	*known = false;
	if (len == 6 && !memcmp(name, "branch", 6)) {
		*known = true;
		return gg_runner_branch(v->ref);
	}
	for (size_t i = 0; i < GG_ARRAY_LEN(vars); i++) {
		if (strlen(vars[i].name) != len || memcmp(vars[i].name, name, len))
			continue;
		const char *val = *(const char *const *)((const char *)v + vars[i].off);
		if (len == 3 && !memcmp(name, "dir", 3) && val == NULL)
			return NULL;
		*known = true;
		return val ? val : "";
	}
	return NULL;
}

char *gg_runner_expand(const char *tmpl, const gg_runner_vars *v)
{
	gg_buf b = GG_BUF_INIT;
	const char *p = tmpl;
	while (*p) {
		const char *open = strchr(p, '{');
		if (open == NULL) {
			gg_buf_puts(&b, p);
			break;
		}
		gg_buf_put(&b, p, (size_t)(open - p));
		const char *close = strchr(open + 1, '}');
		bool known = false;
		const char *val = NULL;
		if (close)
			val = var_value(v, open + 1, (size_t)(close - open - 1), &known);
		if (known) {
			gg_buf_puts(&b, val);
			p = close + 1;
		} else {
			gg_buf_putc(&b, '{');
			p = open + 1;
		}
	}
	return gg_buf_detach(&b);
}

int gg_runner_expand_argv(char ***out, const char *const *argv, const gg_runner_vars *v, char **err)
{
	size_t n = 0;
	while (argv[n])
		n++;
	char **res = gg_calloc(n + 1, sizeof(*res));
	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		res[i] = gg_runner_expand(argv[i], v);
		/*
		 * A value from a payload must never turn an argument into an
		 * option (a branch named --upload-pack=...): the program would
		 * read it as one whatever quoting the argv has.
		 */
		if (i > 0 && res[i][0] == '-' && argv[i][0] != '-') {
			*err = gg_printf("refused: run[%zu] \"%s\" would start with '-' once its "
			                 "placeholders are replaced",
			                 i, argv[i]);
			gg_runner_strv_free(res);
			return -1;
		}
	}
	*out = res;
	return 0;
}

void gg_runner_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* Set KEY=VALUE in a NULL-terminated list, replacing an earlier KEY. */
static void env_set(char ***env, size_t *n, const char *key, const char *val)
{
	size_t klen = strlen(key);
	char *kv = gg_printf("%s=%s", key, val ? val : "");
	for (size_t i = 0; i < *n; i++) {
		if (!strncmp((*env)[i], key, klen) && (*env)[i][klen] == '=') {
			free((*env)[i]);
			(*env)[i] = kv;
			return;
		}
	}
	*env = gg_reallocarray(*env, *n + 2, sizeof(**env));
	(*env)[(*n)++] = kv;
	(*env)[*n] = NULL;
}

void gg_runner_build_env(char ***out, const gg_runner_vars *v, const char *const *keys,
                         const char *const *vals, size_t n)
{
	char **env = gg_calloc(1, sizeof(*env));
	size_t len = 0;
	env_set(&env, &len, "PATH", GG_RUN_DEFAULT_PATH);
	for (size_t i = 0; i < n; i++) {
		if (keys[i] == NULL || keys[i][0] == '\0' || strchr(keys[i], '='))
			continue;
		env_set(&env, &len, keys[i], vals[i]);
	}
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)v->deployment);
	env_set(&env, &len, "GITGATE_TARGET", v->target);
	env_set(&env, &len, "GITGATE_SOURCE", v->source);
	env_set(&env, &len, "GITGATE_REPO", v->repo);
	env_set(&env, &len, "GITGATE_REF", v->ref);
	env_set(&env, &len, "GITGATE_BEFORE", v->before);
	env_set(&env, &len, "GITGATE_AFTER", v->after);
	env_set(&env, &len, "GITGATE_DELIVERY", v->delivery);
	env_set(&env, &len, "GITGATE_PUSHER", v->pusher);
	env_set(&env, &len, "GITGATE_DEPLOYMENT", id);
	if (v->replica)
		env_set(&env, &len, "GITGATE_REPLICA", v->replica);
	if (v->dir)
		env_set(&env, &len, "GITGATE_DIR", v->dir);
	*out = env;
}

/* ---- log file with a cap: the head stays, then a marker, then the newest output ---- */

static int log_reopen(gg_run *r)
{
	int fd = gg_statedir_open(r->log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	if (r->log_fd >= 0)
		close(r->log_fd);
	r->log_fd = fd;
	r->log_size = (uint64_t)st.st_size;
	return 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk loses log lines, never the deployment */
		p += w;
		n -= (size_t)w;
	}
}

/*
 * Rewrite the log as head + marker + tail into a temporary file renamed over
 * the old one, so a reader of the path always sees a whole file.
 */
static void log_compact(gg_run *r, const char *data, size_t n)
{
	char *old = NULL;
	size_t oldlen = 0;
	if (gg_statedir_read(&old, &oldlen, r->log_path, (size_t)r->log_max * 2 + 1) < 0) {
		old = gg_strdup("");
		oldlen = 0;
	}
	/* What the file would hold without a cap: the old contents, then the new data. */
	size_t total = oldlen + n;
	char *all = gg_malloc(total + 1);
	memcpy(all, old, oldlen);
	memcpy(all + oldlen, data, n);
	free(old);
	bool first = r->head_len == 0;
	size_t head = first ? (size_t)(r->log_max / 4) : (size_t)r->head_len;
	if (head > total)
		head = total;
	size_t tail = (size_t)(r->log_max / 2);
	if (tail > total - head)
		tail = total - head;

	char *tmp = gg_printf("%s.tmp", r->log_path);
	/* A leftover of a crash goes; then the file is ours alone (O_EXCL). */
	unlink(tmp);
	int fd = gg_statedir_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0640);
	if (fd >= 0) {
		write_all(fd, all, head);
		if (first)
			write_all(fd, RUN_LOG_MARKER, strlen(RUN_LOG_MARKER));
		write_all(fd, all + total - tail, tail);
		close(fd);
		if (rename(tmp, r->log_path) == 0) {
			r->head_len = head + (first ? strlen(RUN_LOG_MARKER) : 0);
			log_reopen(r);
		} else {
			unlink(tmp);
		}
	}
	free(tmp);
	free(all);
}

static void log_write(gg_run *r, const char *data, size_t n)
{
	if (r->log_fd < 0 || n == 0)
		return;
	if (r->log_max > 0 && r->log_size + n > r->log_max) {
		log_compact(r, data, n);
		return;
	}
	write_all(r->log_fd, data, n);
	r->log_size += n;
}

static void log_vline(gg_run *r, const char *fmt, va_list ap)
{
	char *msg = gg_vprintf(fmt, ap);
	char *line = gg_printf("gitgated: %s\n", msg);
	log_write(r, line, strlen(line));
	free(line);
	free(msg);
}

void gg_run_log(gg_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vline(r, fmt, ap);
	va_end(ap);
}

void gg_runner_log_line(const char *log_path, const char *fmt, ...)
{
	int fd = gg_statedir_open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
	if (fd < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = gg_vprintf(fmt, ap);
	va_end(ap);
	char *line = gg_printf("gitgated: %s\n", msg);
	write_all(fd, line, strlen(line));
	free(line);
	free(msg);
	close(fd);
}

/* ---- the runs ---- */

static void run_close_output(gg_run *r)
{
	if (r->out_ev) {
		event_free(r->out_ev);
		r->out_ev = NULL;
	}
	if (r->out_fd >= 0) {
		close(r->out_fd);
		r->out_fd = -1;
	}
}

/* Read what is available: 1 when there may be more, 0 when the pipe is empty, -1 at EOF. */
static int run_read_output(gg_run *r)
{
	char buf[RUN_READ_CHUNK];
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(r->out_fd, buf, sizeof(buf));
		if (n > 0) {
			log_write(r, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	return 1;
}

static void run_free(gg_run *r)
{
	run_close_output(r);
	if (r->timeout_ev)
		event_free(r->timeout_ev);
	if (r->kill_ev)
		event_free(r->kill_ev);
	if (r->log_fd >= 0)
		close(r->log_fd);
	free(r->log_path);
	free(r);
}

static void run_unlink(gg_run *r)
{
	gg_runner *rn = r->rn;
	if (r->prev)
		r->prev->next = r->next;
	else
		rn->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	rn->n--;
}

static void run_finish(gg_run *r)
{
	/* What the child wrote just before it exited is still in the pipe. */
	if (r->out_fd >= 0) {
		/* A grandchild may keep the pipe open: take what is there, do not wait for EOF. */
		for (int i = 0; i < 64 && run_read_output(r) > 0; i++)
			;
		run_close_output(r);
	}
	if (r->timed_out || r->stopping) {
		/* Whatever the group left behind (a backgrounded grandchild) goes too. */
		kill(-r->pid, SIGKILL);
	}
	gg_run_end how;
	int code;
	if (r->timed_out) {
		how = GG_RUN_TIMED_OUT;
		code = WIFSIGNALED(r->wstatus) ? WTERMSIG(r->wstatus) : WEXITSTATUS(r->wstatus);
	} else if (r->stopping) {
		how = GG_RUN_STOPPED;
		code = WIFSIGNALED(r->wstatus) ? WTERMSIG(r->wstatus) : WEXITSTATUS(r->wstatus);
	} else if (WIFEXITED(r->wstatus)) {
		how = GG_RUN_EXITED;
		code = WEXITSTATUS(r->wstatus);
	} else {
		how = GG_RUN_SIGNALED;
		code = WTERMSIG(r->wstatus);
	}
	run_unlink(r);
	r->done(r, how, code, r->arg);
	run_free(r);
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gg_run *r = arg;
	if (run_read_output(r) < 0)
		run_close_output(r);
}

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gg_run *r = arg;
	kill(-r->pid, SIGKILL);
}

static void run_terminate(gg_run *r)
{
	kill(-r->pid, SIGTERM);
	if (r->kill_ev == NULL) {
		r->kill_ev = evtimer_new(event_get_base(r->rn->sigchld), on_kill, r);
		struct timeval tv = {(time_t)(r->kill_grace_ms / 1000),
		                     (suseconds_t)(r->kill_grace_ms % 1000) * 1000};
		evtimer_add(r->kill_ev, &tv);
	}
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gg_run *r = arg;
	if (r->stopping || r->timed_out)
		return;
	r->timed_out = true;
	gg_run_log(r, "timed out: stopping the process group (SIGTERM, SIGKILL after %llums)",
	           (unsigned long long)r->kill_grace_ms);
	run_terminate(r);
}

void gg_run_stop(gg_run *r)
{
	if (r->stopping || r->timed_out)
		return;
	r->stopping = true;
	gg_run_log(r, "stopping the process group (SIGTERM, SIGKILL after %llums)",
	           (unsigned long long)r->kill_grace_ms);
	run_terminate(r);
}

pid_t gg_run_pid(const gg_run *r)
{
	return r->pid;
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gg_runner *rn = arg;
	/* Only our own children: waiting for any pid would steal other modules' children. */
	for (;;) {
		gg_run *found = NULL;
		for (gg_run *r = rn->runs; r; r = r->next) {
			int st;
			pid_t p = waitpid(r->pid, &st, WNOHANG);
			if (p == r->pid || (p < 0 && errno == ECHILD)) {
				if (p == r->pid) {
					r->wstatus = st;
				} else {
					/* Reaped elsewhere: the status is lost, so it cannot count
					 * as success. */
					gg_run_log(r,
					           "the exit status was lost (reaped elsewhere)");
					r->wstatus = W_EXITCODE(255, 0);
				}
				found = r;
				break;
			}
		}
		if (found == NULL)
			break;
		run_finish(found);
	}
}

int gg_runner_new(gg_runner **out, struct event_base *base)
{
	gg_runner *rn = gg_calloc(1, sizeof(*rn));
	rn->base = base;
	rn->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, rn);
	if (rn->sigchld == NULL || evsignal_add(rn->sigchld, NULL) < 0) {
		if (rn->sigchld)
			event_free(rn->sigchld);
		free(rn);
		*out = NULL;
		return -1;
	}
	*out = rn;
	return 0;
}

void gg_runner_free(gg_runner *rn)
{
	if (rn == NULL)
		return;
	while (rn->runs) {
		gg_run *r = rn->runs;
		kill(-r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		run_unlink(r);
		run_free(r);
	}
	event_free(rn->sigchld);
	free(rn);
}

size_t gg_runner_count(const gg_runner *rn)
{
	return rn->n;
}

/* Find argv0 the way execvp would, but before fork and with the child's PATH. */
static char *resolve_program(const char *argv0, const char *const *envp)
{
	if (strchr(argv0, '/'))
		return access(argv0, X_OK) == 0 ? gg_strdup(argv0) : NULL;
	const char *path = GG_RUN_DEFAULT_PATH;
	for (size_t i = 0; envp[i]; i++)
		if (!strncmp(envp[i], "PATH=", 5))
			path = envp[i] + 5;
	const char *p = path;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0) {
			char *cand = gg_printf("%.*s/%s", (int)len, p, argv0);
			struct stat st;
			if (access(cand, X_OK) == 0 && stat(cand, &st) == 0 && S_ISREG(st.st_mode))
				return cand;
			free(cand);
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	errno = ENOENT;
	return NULL;
}

__attribute__((noreturn)) static void child_exec(const char *prog, const gg_run_spec *spec,
                                                 int devnull, int out_w, pid_t parent)
{
	setpgid(0, 0);
	/* A daemon killed outright takes its deployment with it; the restart re-queues it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
		_exit(127);
	if (chdir(spec->cwd ? spec->cwd : "/") < 0) {
		static const char msg[] = "gitgated: cannot enter the working directory\n";
		write_all(2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	syscall(SYS_close_range, 3U, ~0U, 0U);
	if (spec->nice > 0) {
		/* Raw calls: the child shares the daemon's memory until execve. */
		long cur = syscall(SYS_getpriority, PRIO_PROCESS, 0); /* 20 - nice */
		if (cur <= 0 || syscall(SYS_setpriority, PRIO_PROCESS, 0,
		                        (int)(20 - cur) + (int)spec->nice) < 0) {
			static const char msg[] = "gitgated: cannot lower the priority (nice); "
			                          "running at the daemon's\n";
			write_all(2, msg, sizeof(msg) - 1);
		}
	}
	execve(prog, (char *const *)spec->argv, (char *const *)spec->envp);
	static const char msg[] = "gitgated: exec failed\n";
	write_all(2, msg, sizeof(msg) - 1);
	_exit(127);
}

/*
 * vfork, not fork: copying the page tables of a daemon that holds SQLite's page
 * cache made every run write-protect it, and the store's writer thread then
 * stalled on copy-on-write faults. The child only runs async-signal-safe calls
 * until execve; every signal stays blocked until it has reset their handlers,
 * so none of the daemon's handlers runs in it.
 */
static pid_t spawn_child(const char *prog, const gg_run_spec *spec, int devnull, int out_w)
{
	pid_t parent = getpid();
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	pid_t pid = vfork();
	if (pid == 0)
		child_exec(prog, spec, devnull, out_w, parent);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	errno = e;
	return pid;
}

int gg_run_start(gg_run **out, gg_runner *rn, const gg_run_spec *spec, gg_run_done_fn done,
                 void *arg, char **err)
{
	int rc = -1;
	int devnull = -1, pfd[2] = {-1, -1};
	char *prog = NULL;
	gg_run *r = gg_calloc(1, sizeof(*r));
	r->rn = rn;
	r->out_fd = -1;
	r->log_fd = -1;
	r->log_path = gg_strdup(spec->log_path);
	r->log_max = spec->log_max;
	r->kill_grace_ms = spec->kill_grace_ms ? spec->kill_grace_ms : GG_RUN_KILL_GRACE_MS;
	r->done = done;
	r->arg = arg;
	*out = NULL;
	*err = NULL;

	if (spec->argv == NULL || spec->argv[0] == NULL) {
		*err = gg_strdup("empty command");
		goto done;
	}
	if (log_reopen(r) < 0) {
		*err = gg_printf("cannot open log %s: %s", spec->log_path, strerror(errno));
		goto done;
	}
	prog = resolve_program(spec->argv[0], spec->envp);
	if (prog == NULL) {
		*err = gg_printf("cannot execute %s: %s", spec->argv[0], strerror(errno));
		goto done;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		*err = gg_printf("cannot set up the child's descriptors: %s", strerror(errno));
		goto done;
	}
	pid_t pid = spawn_child(prog, spec, devnull, pfd[1]);
	if (pid < 0) {
		*err = gg_printf("vfork: %s", strerror(errno));
		goto done;
	}
	/* Both sides set the group, so a kill right after fork already reaches it. */
	setpgid(pid, pid);
	r->pid = pid;
	close(pfd[1]);
	pfd[1] = -1;
	r->out_fd = pfd[0];
	pfd[0] = -1;
	fcntl(r->out_fd, F_SETFL, fcntl(r->out_fd, F_GETFL) | O_NONBLOCK);
	r->out_ev = event_new(rn->base, r->out_fd, EV_READ | EV_PERSIST, on_output, r);
	event_add(r->out_ev, NULL);
	if (spec->timeout_ms > 0) {
		r->timeout_ev = evtimer_new(rn->base, on_timeout, r);
		struct timeval tv = {(time_t)(spec->timeout_ms / 1000),
		                     (suseconds_t)(spec->timeout_ms % 1000) * 1000};
		evtimer_add(r->timeout_ev, &tv);
	}
	r->next = rn->runs;
	if (rn->runs)
		rn->runs->prev = r;
	rn->runs = r;
	rn->n++;
	*out = r;
	r = NULL;
	rc = 0;
done:
	if (devnull >= 0)
		close(devnull);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(prog);
	if (r)
		run_free(r);
	return rc;
}
