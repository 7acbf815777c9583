/*
 * passwd.h - the rescue password as the agent receives it: a crypt(3) hash
 * ($5$ SHA-256 or $6$ SHA-512) with a random salt.  The clear text is never
 * stored.  Any thread.
 */
#ifndef LB_PASSWD_H
#define LB_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"

#define LB_PASSWD_HASH_MAX 256

/* algorithm: "sha256" or "sha512".  -EINVAL, -EIO. */
int lb_passwd_hash(const char *password, const char *algorithm,
    char out[LB_PASSWD_HASH_MAX], struct lb_err *err);
/* True when 'password' hashes to 'hash' (constant-time compare). */
bool lb_passwd_verify(const char *password, const char *hash);
/* True for NULL, "" and whitespace only: Ironic's notion of blank. */
bool lb_passwd_is_blank(const char *password);

#endif
