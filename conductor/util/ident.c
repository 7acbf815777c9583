/*
 * ident.c - UUIDs, MACs, names, time stamps and random tokens.  Any thread.
 */
#include "ident.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "conductor/util/banned.h"

int
lb_uuid_generate(char out[LB_UUID_LEN + 1])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, LB_UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

bool
lb_uuid_is_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != LB_UUID_LEN)
		return false;
	for (i = 0; i < LB_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

int
lb_uuid_normalize(const char *s, char out[LB_UUID_LEN + 1])
{
	size_t i;

	if (!lb_uuid_is_valid(s))
		return -EINVAL;
	for (i = 0; i < LB_UUID_LEN; i++)
		out[i] = tolower((unsigned char)s[i]);
	out[LB_UUID_LEN] = '\0';
	return 0;
}

int
lb_mac_normalize(const char *s, char out[LB_MAC_LEN + 1])
{
	char sep;
	size_t i;

	if (s == NULL || strlen(s) != LB_MAC_LEN)
		return -EINVAL;
	sep = s[2];
	if (sep != ':' && sep != '-')
		return -EINVAL;
	for (i = 0; i < LB_MAC_LEN; i++) {
		if (i % 3 == 2) {
			if (s[i] != sep)
				return -EINVAL;
			out[i] = ':';
		} else {
			if (!isxdigit((unsigned char)s[i]))
				return -EINVAL;
			out[i] = tolower((unsigned char)s[i]);
		}
	}
	out[LB_MAC_LEN] = '\0';
	return 0;
}

bool
lb_logical_name_is_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > 255)
		return false;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("-._~", *s) == NULL)
			return false;
	}
	return true;
}

void
lb_time_now_iso(char out[LB_TIME_LEN])
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(out, LB_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
}

int
lb_time_parse_iso(const char *s, double *ret_seconds)
{
	struct tm tm = { 0 };
	long usec = 0;
	int n = 0;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    &n) != 6)
		return -EINVAL;
	if (s[n] == '.' && sscanf(s + n + 1, "%6ld", &usec) != 1)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ret_seconds = (double)timegm(&tm) + usec / 1e6;
	return 0;
}

int
lb_random_token(char *out, size_t out_size, size_t nbytes)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char b[96];
	size_t bits = 0, o = 0, i;
	unsigned acc = 0;

	if (nbytes > sizeof(b) || out_size < (nbytes * 4 + 2) / 3 + 1)
		return -EINVAL;
	if (RAND_bytes(b, nbytes) != 1)
		return -EIO;
	for (i = 0; i < nbytes; i++) {
		acc = (acc << 8) | b[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = alphabet[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (6 - bits)) & 0x3f];
	out[o] = '\0';
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

bool
lb_uuid_set_has(const struct lb_uuid_set *s, const char *uuid)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], uuid) == 0)
			return true;
	return false;
}

int
lb_uuid_set_add(struct lb_uuid_set *s, const char *uuid)
{
	void *more;

	if (lb_uuid_set_has(s, uuid))
		return 0;
	more = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	if (more == NULL)
		return -ENOMEM;
	s->v = more;
	snprintf(s->v[s->n++], LB_UUID_LEN + 1, "%s", uuid);
	return 0;
}

void
lb_uuid_set_free(struct lb_uuid_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
