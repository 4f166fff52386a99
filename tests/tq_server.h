/* tq_server — start and stop a real llama-server for the openai runtime's
 * tests: on 127.0.0.1, a free port, its log in a file; stopped by
 * tq_server_stop, and at exit if a test returned early (atexit), so no
 * server outlives the test binary.
 *
 * Where: $QE_LLAMA_SERVER, else .deps/llama-tools/bin/llama-server (`make
 * llama-tools`). tq_server_path() is NULL when absent: the caller skips.
 */
#ifndef QE_TQ_SERVER_H
#define QE_TQ_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TQ_SERVER_MAX 4

struct tq_server {
	pid_t pid;
	int port;
	char log[512];
	char url[128];    /* http://127.0.0.1:PORT/v1 */
};

static pid_t tq_server_pids[TQ_SERVER_MAX];

static inline const char *tq_server_path(void)
{
	static char p[512];
	const char *e = getenv("QE_LLAMA_SERVER");

	snprintf(p, sizeof(p), "%s", e && *e ? e : ".deps/llama-tools/bin/llama-server");
	return access(p, X_OK) == 0 ? p : NULL;
}

static inline void tq_server_kill_all(void)
{
	for (int i = 0; i < TQ_SERVER_MAX; i++)
		if (tq_server_pids[i] > 0) {
			kill(tq_server_pids[i], SIGKILL);
			waitpid(tq_server_pids[i], NULL, 0);
			tq_server_pids[i] = 0;
		}
}

/* a port nothing listens on now */
static inline int tq_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* 1 when GET /health answers 200 */
static inline int tq_server_healthy(int port)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "curl -sf -o /dev/null http://127.0.0.1:%d/health 2>/dev/null", port);
	return system(cmd) == 0;
}

/* Start llama-server with model and extra arguments (shell words, e.g.
 * "-t 1 -a mem --embeddings"), port 0 = a free one. Waits until healthy
 * (at most wait_s). 0 on success. */
static inline int tq_server_start(struct tq_server *s, const char *dir, const char *model, const char *extra, int port,
				  int wait_s)
{
	static int registered;
	const char *bin = tq_server_path();
	char cmd[2048];
	int slot;

	if (!bin)
		return -1;
	if (!registered && (registered = 1))
		atexit(tq_server_kill_all);
	for (slot = 0; slot < TQ_SERVER_MAX && tq_server_pids[slot] > 0; slot++)
		;
	if (slot == TQ_SERVER_MAX)
		return -1;
	s->port = port ? port : tq_free_port();
	snprintf(s->log, sizeof(s->log), "%s/llama-server-%d.log", dir, s->port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/v1", s->port);
	snprintf(cmd, sizeof(cmd), "exec %s -m %s --host 127.0.0.1 --port %d --no-webui %s >>%s 2>&1", bin, model, s->port,
		 extra, s->log);
	s->pid = fork();
	if (s->pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (s->pid < 0)
		return -1;
	tq_server_pids[slot] = s->pid;
	for (int i = 0; i < wait_s * 10; i++) {
		int st;
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			tq_server_pids[slot] = 0;
			s->pid = 0;
			return -1;
		}
		if (tq_server_healthy(s->port))
			return 0;
		usleep(100000);
	}
	return -1;
}

/* Stop it: SIGKILL when hard (a crash), else SIGTERM; waits for it. */
static inline void tq_server_stop(struct tq_server *s, int hard)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, hard ? SIGKILL : SIGTERM);
	for (int i = 0; i < 100 && waitpid(s->pid, NULL, WNOHANG) != s->pid; i++) {
		usleep(50000);
		if (i == 99) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
	}
	for (int i = 0; i < TQ_SERVER_MAX; i++)
		if (tq_server_pids[i] == s->pid)
			tq_server_pids[i] = 0;
	s->pid = 0;
}

#endif
