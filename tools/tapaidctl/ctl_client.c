/*
 * ctl_client.c - the client side of the admin socket (host/ADMIN.md).
 *
 * One JSON object per line each way over DATA_DIR/admin.sock.  The daemon
 * decides who may do what (SO_PEERCRED -> role); this file only frames
 * requests, reads answers and turns a refusal into one clear line.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tapaid/crypto.h"

#include "ctl_int.h"

struct ctl_conn {
	int fd;
	char *buf; /* bytes read past the last answer */
	size_t len, cap;
	struct ctl_progress *prog; /* ticked while waiting, may be NULL */
};

/* Set by callers that want a spinner while a long request runs. */
struct ctl_progress *ctl_wait_progress;

int ctl_open_path(const char *path, struct ctl_conn **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ctl_conn *c;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_err("socket path %s is too long; use a shorter --dir",
			path);
		return CTL_FAIL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ctl_err("socket: %s", strerror(errno));
		return CTL_FAIL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			ctl_err("tapaidd is not running (no answer on %s); "
				"start it "
				"with 'tapaidd -c DIR/tapaidd.conf'",
				path);
		else if (e == EACCES || e == EPERM)
			ctl_err("cannot reach %s: %s; ask an administrator for "
				"access to the data directory",
				path, strerror(e));
		else
			ctl_err("cannot connect to %s: %s", path, strerror(e));
		return CTL_FAIL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		ctl_err("out of memory");
		return CTL_FAIL;
	}
	c->fd = fd;
	*out = c;
	return CTL_OK;
}

int ctl_open(struct ctl_conn **out)
{
	char path[4096];

	if (ctl_dir == NULL) {
		ctl_err("no data directory: give --dir DIR or set TAPAID_DIR");
		return CTL_FAIL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/admin.sock", ctl_dir) >=
	    sizeof(path)) {
		ctl_err("data directory path is too long");
		return CTL_FAIL;
	}
	return ctl_open_path(path, out);
}

void ctl_close(struct ctl_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one line (without its newline) into a new string; NULL on error. */
static char *read_line(struct ctl_conn *c)
{
	size_t scanned = 0;

	for (;;) {
		char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n',
						     c->len - scanned)
					    : NULL;
		ssize_t r;

		if (nl != NULL) {
			size_t l = (size_t)(nl - c->buf);
			char *line = malloc(l + 1);

			if (line == NULL)
				return NULL;
			memcpy(line, c->buf, l);
			line[l] = '\0';
			memmove(c->buf, nl + 1, c->len - l - 1);
			/* Answers may carry card keys (card.prepare): leave
			 * no copy behind in the buffer. */
			tp_wipe(c->buf + c->len - l - 1, l + 1);
			c->len -= l + 1;
			return line;
		}
		scanned = c->len;
		if (c->len >= CTL_MAX_LINE) {
			errno = EMSGSIZE;
			return NULL;
		}
		if (c->cap - c->len < 65536) {
			size_t ncap = c->cap ? c->cap * 2 : 131072;
			char *nb = realloc(c->buf, ncap);

			if (nb == NULL)
				return NULL;
			c->buf = nb;
			c->cap = ncap;
		}
		if (c->prog != NULL) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

			if (poll(&pfd, 1, 100) == 0) {
				ctl_progress_set(c->prog, 0);
				continue;
			}
		}
		r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (r == 0) {
			errno = ECONNRESET;
			return NULL;
		}
		c->len += (size_t)r;
	}
}

/*
 * Sends one request line (txt, n bytes, ending in '\n') and reads and
 * parses the answer.  Returns the answer object or NULL after one message.
 */
static cJSON *exchange(struct ctl_conn *c, const char *txt, size_t n)
{
	cJSON *ans = NULL;
	char *line;
	int e;

	if (n > CTL_MAX_LINE) {
		ctl_err("request is %zu bytes, over the admin socket's 64 MiB "
			"limit; split the input",
			n);
		return NULL;
	}
	e = write_all(c->fd, txt, n);
	if (e < 0) {
		ctl_err("sending to tapaidd failed: %s", strerror(-e));
		return NULL;
	}
	c->prog = ctl_wait_progress;
	line = read_line(c);
	c->prog = NULL;
	if (line == NULL) {
		if (errno == ECONNRESET)
			ctl_err(
			    "tapaidd closed the connection without answering; "
			    "see its log");
		else
			ctl_err("reading tapaidd's answer failed: %s",
				strerror(errno));
		return NULL;
	}
	ans = cJSON_Parse(line);
	if (ans == NULL || !cJSON_IsObject(ans) ||
	    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(ans, "ok"))) {
		cJSON_Delete(ans);
		ans = NULL;
		ctl_err("tapaidd sent an answer that is not a valid reply "
			"object; is the daemon the same version?");
	}
	tp_wipe(line, strlen(line));
	free(line);
	return ans;
}

cJSON *ctl_request(struct ctl_conn *c, const char *cmd, cJSON *args)
{
	cJSON *req = cJSON_CreateObject(), *ans = NULL;
	char *txt = NULL;
	size_t n;

	if (req == NULL || !cJSON_AddNumberToObject(req, "v", 1) ||
	    !cJSON_AddStringToObject(req, "cmd", cmd)) {
		cJSON_Delete(args);
		goto nomem;
	}
	if (args == NULL)
		args = cJSON_CreateObject();
	if (args == NULL || !cJSON_AddItemToObject(req, "args", args))
		goto nomem;
	txt = cJSON_PrintUnformatted(req);
	if (txt == NULL)
		goto nomem;
	n = strlen(txt);
	txt[n] = '\n'; /* the NUL is not sent */
	ans = exchange(c, txt, n + 1);
	goto out;
nomem:
	ctl_err("out of memory");
out:
	free(txt);
	cJSON_Delete(req);
	return ans;
}

cJSON *ctl_request_raw(struct ctl_conn *c, const char *cmd, const char *args,
		       size_t len)
{
	static const char head[] = "{\"v\":1,\"cmd\":\"";
	size_t hl = sizeof(head) - 1, cl = strlen(cmd), n = 0;
	char *txt = malloc(hl + cl + 16 + len);
	cJSON *ans;

	if (txt == NULL) {
		ctl_err("out of memory");
		return NULL;
	}
	memcpy(txt, head, hl);
	n = hl;
	memcpy(txt + n, cmd, cl);
	n += cl;
	memcpy(txt + n, "\",\"args\":", 9);
	n += 9;
	memcpy(txt + n, args, len);
	n += len;
	memcpy(txt + n, "}\n", 2);
	n += 2;
	ans = exchange(c, txt, n);
	free(txt);
	return ans;
}

int ctl_report_refusal(const char *cmd, const cJSON *ans)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(ans, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(ans, "code");
	const cJSON *need = cJSON_GetObjectItemCaseSensitive(ans, "need_role");
	const char *msg = cJSON_IsString(err) ? err->valuestring : "refused";
	const char *c = cJSON_IsString(code) ? code->valuestring : "";

	if (strcmp(c, "forbidden") == 0 && cJSON_IsString(need))
		ctl_err("%s refused: %s (needs the %s role; ask an "
			"administrator)",
			cmd, msg, need->valuestring);
	else if (strcmp(c, "version") == 0)
		ctl_err("%s: %s (tapaidctl and tapaidd versions differ; "
			"install matching versions)",
			cmd, msg);
	else
		ctl_err("%s: %s", cmd, msg);
	return CTL_FAIL;
}

int ctl_call(struct ctl_conn *c, const char *cmd, cJSON *args, cJSON **data,
	     const char **code)
{
	return ctl_call_ex(c, cmd, args, data, code, NULL, 0);
}

int ctl_call_ex(struct ctl_conn *c, const char *cmd, cJSON *args, cJSON **data,
		const char **code, char *msg, size_t msgcap)
{
	static char codebuf[32];
	cJSON *ans = ctl_request(c, cmd, args);
	const cJSON *cd;

	if (code != NULL)
		*code = "io";
	if (ans == NULL)
		return CTL_FAIL;
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"))) {
		cd = cJSON_GetObjectItemCaseSensitive(ans, "code");
		snprintf(codebuf, sizeof(codebuf), "%s",
			 cJSON_IsString(cd) ? cd->valuestring : "");
		if (code != NULL)
			*code = codebuf;
		if (msg != NULL) {
			const cJSON *e =
			    cJSON_GetObjectItemCaseSensitive(ans, "error");

			snprintf(msg, msgcap, "%s",
				 cJSON_IsString(e) ? e->valuestring
						   : "refused");
			if (strcmp(codebuf, "forbidden") == 0)
				ctl_report_refusal(cmd, ans);
		} else {
			ctl_report_refusal(cmd, ans);
		}
		cJSON_Delete(ans);
		return CTL_FAIL;
	}
	if (code != NULL)
		*code = "";
	if (data != NULL) {
		*data = cJSON_DetachItemFromObjectCaseSensitive(ans, "data");
		if (*data == NULL)
			*data = cJSON_CreateObject();
	}
	cJSON_Delete(ans);
	return CTL_OK;
}

int ctl_rpc(const char *cmd, cJSON *args, cJSON **data)
{
	struct ctl_conn *c;
	int rc;

	if (ctl_open(&c) != CTL_OK) {
		cJSON_Delete(args);
		return CTL_FAIL;
	}
	rc = ctl_call(c, cmd, args, data, NULL);
	ctl_close(c);
	return rc;
}

static int role_rank(const char *r)
{
	if (strcmp(r, "admin") == 0)
		return 3;
	if (strcmp(r, "staff") == 0)
		return 2;
	if (strcmp(r, "auditor") == 0)
		return 1;
	return 0;
}

int ctl_check_show_names(struct ctl_conn *c, const char *what)
{
	cJSON *data = NULL;
	const cJSON *role;
	int ok;

	if (ctl_call(c, "ping", NULL, &data, NULL) != CTL_OK)
		return CTL_FAIL;
	role = cJSON_GetObjectItemCaseSensitive(data, "role");
	ok = cJSON_IsString(role) && role_rank(role->valuestring) >= 2;
	if (!ok)
		ctl_err("%s --show-names refused: seeing names needs the staff "
			"role (you are %s); the request was recorded. Run it "
			"without --show-names for masked names",
			what,
			cJSON_IsString(role) ? role->valuestring : "no role");
	cJSON_Delete(data);
	return ok ? CTL_OK : CTL_FAIL;
}
