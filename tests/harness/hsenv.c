/* A handshake environment and a client socket, for tests and the fuzzer. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hsenv.h"

int
hsenv_init(struct hsenv *e, const char *ini, struct mask *mask)
{
	char err[256];
	size_t i;

	memset(e, 0, sizeof(*e));
	config_defaults(&e->cfg);
	if (config_load_buffer(ini, strlen(ini), &e->cfg, err,
	    sizeof(err)) != 0 || config_validate(&e->cfg, err,
	    sizeof(err)) != 0 || e->cfg.nusers == 0)
		return HSENV_ERR;
	if ((e->secrets = calloc(e->cfg.nusers, SECRET_LEN)) == NULL)
		return HSENV_ERR;
	for (i = 0; i < e->cfg.nusers; i++)
		memcpy(e->secrets[i], e->cfg.users[i].secret, SECRET_LEN);
	e->env.cfg = &e->cfg;
	e->env.secrets = (const uint8_t (*)[SECRET_LEN])e->secrets;
	e->env.nsecrets = e->cfg.nusers;
	e->env.mask = mask;
	return 0;
}

void
hsenv_free(struct hsenv *e)
{
	free(e->secrets);
	e->secrets = NULL;
	config_free(&e->cfg);
}

int
hsenv_client(const uint8_t *cuts, size_t ncuts, const uint8_t *s, size_t n,
    int eof, int *fd)
{
	size_t pos = 0, piece, k;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	for (k = 0; pos < n; k++) {
		piece = ncuts == 0 || k == HSENV_MAX_PIECES - 1 ? n - pos :
		    (size_t)cuts[k % ncuts] + 1;
		if (piece > n - pos)
			piece = n - pos;
		if (send(sv[0], s + pos, piece, MSG_DONTWAIT | MSG_NOSIGNAL) !=
		    (ssize_t)piece) {
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
		pos += piece;
	}
	if (eof)
		shutdown(sv[0], SHUT_WR);
	*fd = sv[1];
	return sv[0];
}
