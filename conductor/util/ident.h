/*
 * ident.h - identifiers lifeboat validates and creates: UUIDs, MAC
 * addresses, Ironic "logical names", and ISO-8601 time stamps.  Pure
 * functions; any thread.
 */
#ifndef LB_IDENT_H
#define LB_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_UUID_LEN 36
#define LB_MAC_LEN 17
#define LB_TIME_LEN 64

/* A random (version 4) UUID from OpenSSL's CSPRNG.  0 or -EIO. */
int lb_uuid_generate(char out[LB_UUID_LEN + 1]);
/* True for 8-4-4-4-12 hex digits (either case). */
bool lb_uuid_is_valid(const char *s);
/* Lower-cases a valid UUID into out.  -EINVAL if not a UUID. */
int lb_uuid_normalize(const char *s, char out[LB_UUID_LEN + 1]);

/*
 * Accepts six octets separated by ':' or '-' (either case) and writes the
 * lower-case colon form.  -EINVAL otherwise.
 */
int lb_mac_normalize(const char *s, char out[LB_MAC_LEN + 1]);

/* RFC 3986 unreserved characters only, 1..255 bytes (Ironic >= 1.10). */
bool lb_logical_name_is_valid(const char *s);

/* Wall clock as "2026-11-22T04:01:03.953060+00:00". */
void lb_time_now_iso(char out[LB_TIME_LEN]);
/* Unix seconds of a time stamp written by lb_time_now_iso; -EINVAL if not. */
int lb_time_parse_iso(const char *s, double *ret_seconds);

/* Random URL-safe base64 without padding (43 chars for 32 bytes). */
int lb_random_token(char *out, size_t out_size, size_t nbytes);

/* A growing set of node UUIDs (zeroed: empty). */
struct lb_uuid_set {
	char (*v)[LB_UUID_LEN + 1];
	size_t n;
};

bool lb_uuid_set_has(const struct lb_uuid_set *s, const char *uuid);
/* Adds uuid unless it is there.  0 or -ENOMEM. */
int lb_uuid_set_add(struct lb_uuid_set *s, const char *uuid);
/* Frees the set; it is empty again. */
void lb_uuid_set_free(struct lb_uuid_set *s);

#endif
