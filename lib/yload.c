#include "gitgate/yload.h"

#include <stdlib.h>

void gg_yload_err(gg_yload *l, const gg_ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = gg_vprintf(fmt, ap);
	va_end(ap);
	gg_diag_add(l->diag, l->file, n ? n->line : 1, n ? n->col : 1, "%s", m);
	free(m);
	l->errors++;
}

void gg_yload_unknown_key(gg_yload *l, const gg_ynode *k, const char *where,
                          const char *const *known)
{
	gg_buf list = GG_BUF_INIT;
	for (size_t j = 0; known[j]; j++)
		gg_buf_printf(&list, "%s%s", j ? ", " : "", known[j]);
	gg_yload_err(l, k, "unknown key '%s' in %s (expected one of: %s)",
	             gg_yis_scalar(k) && k->str ? k->str : "?", where, list.ptr ? list.ptr : "");
	gg_buf_free(&list);
}

void gg_yload_check_keys(gg_yload *l, const gg_ynode *map, const char *where,
                         const char *const *known)
{
	for (uint32_t i = 0; i < map->n; i++) {
		const gg_ynode *k = map->items[2 * i];
		bool ok = false;
		for (size_t j = 0; known[j] && !ok; j++)
			ok = gg_yis(k, known[j]);
		if (!ok)
			gg_yload_unknown_key(l, k, where, known);
	}
}

int gg_yload_regex(gg_yload *l, const gg_ynode *n, const char *where, gg_regex **out)
{
	*out = NULL;
	if (!gg_yis_scalar(n) || n->str == NULL || n->type == GG_Y_NULL) {
		gg_yload_err(l, n, "%s: a regular expression must be a string", where);
		return -1;
	}
	char *why = NULL;
	size_t off = 0;
	if (gg_regex_compile(out, n->str, &why, &off) < 0) {
		gg_yload_err(l, n, "%s: invalid regular expression '%s' at offset %zu: %s", where,
		             n->str, off, why);
		free(why);
		*out = NULL;
		return -1;
	}
	return 0;
}
