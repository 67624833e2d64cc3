/*
 * The link subcommand. Only the t.me form gets a QR code: a phone's camera
 * opens it in Telegram, while tg:// is for pasting on the same device.
 */
#include <stdlib.h>

#include "link.h"
#include "qr.h"
#include "users.h"

struct link_out {
	FILE *out;
	int qr;
};

static int
show(void *arg, const char *user, const char *mode, int tme,
    const char *link)
{
	struct link_out *lo = arg;
	char *code = NULL;
	int rc;

	if (fprintf(lo->out, "user %s (%s): %s\n", user, mode, link) < 0)
		return LINK_ERR;
	if (!lo->qr || !tme)
		return 0;
	if (qr_render(link, &code) != 0)
		return LINK_ERR;
	rc = fputs(code, lo->out) < 0 ? LINK_ERR : 0;
	free(code);
	return rc;
}

int
link_print(const struct config *cfg, const char *user, int qr, FILE *out)
{
	struct link_out lo = { out, qr };
	int rc;

	rc = users_each_link(cfg, user, cfg->port, show, &lo);
	if (rc == USERS_ERR_NOUSER)
		return LINK_ERR_NOUSER;
	if (rc != 0 || fflush(out) != 0)
		return LINK_ERR;
	return 0;
}
