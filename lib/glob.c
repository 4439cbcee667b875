#include "gitgate/glob.h"

#include <stddef.h>

/* Match a character class starting after '['; *pp is left after the ']'. */
static bool class_match(const char **pp, char c, bool *ok)
{
	const char *p = *pp;
	bool neg = false, hit = false;
	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	const char *start = p;
	while (*p && (*p != ']' || p == start)) {
		char lo = *p, hi = *p;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			p += 2;
		}
		if (c >= lo && c <= hi)
			hit = true;
		p++;
	}
	if (*p != ']') {
		*ok = false; /* unterminated: '[' is literal */
		return false;
	}
	*ok = true;
	*pp = p + 1;
	return hit != neg;
}

static bool match(const char *p, const char *s)
{
	for (;;) {
		switch (*p) {
		case '\0':
			return *s == '\0';
		case '*':
			if (p[1] == '*') {
				const char *rest = p + 2;
				/* "**" alone spans segments; followed by a slash it matches zero or
				 * more dirs. */
				if (*rest == '/') {
					rest++;
					for (const char *t = s;; t++) {
						if ((t == s || t[-1] == '/') && match(rest, t))
							return true;
						if (*t == '\0')
							return false;
					}
				}
				for (const char *t = s;; t++) {
					if (match(rest, t))
						return true;
					if (*t == '\0')
						return false;
				}
			}
			p++;
			for (const char *t = s;; t++) {
				if (match(p, t))
					return true;
				if (*t == '\0' || *t == '/')
					return false;
			}
		case '?':
			if (*s == '\0' || *s == '/')
				return false;
			p++;
			s++;
			break;
		case '[': {
			if (*s == '\0' || *s == '/')
				return false;
			const char *q = p + 1;
			bool ok;
			bool hit = class_match(&q, *s, &ok);
			if (ok) {
				if (!hit)
					return false;
				p = q;
				s++;
				break;
			}
			if (*s != '[')
				return false;
			p++;
			s++;
			break;
		}
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
			if (*p != *s)
				return false;
			p++;
			s++;
		}
	}
}

bool gg_glob_match(const char *pattern, const char *path)
{
	return match(pattern, path);
}
