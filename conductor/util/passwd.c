/*
 * passwd.c - crypt(3) hashing of rescue passwords.  Any thread (crypt_rn
 * with a per-call state).
 */
#include "passwd.h"

#include <crypt.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/banned.h"

int
lb_passwd_hash(const char *password, const char *algorithm,
    char out[LB_PASSWD_HASH_MAX], struct lb_err *err)
{
	const char *prefix;
	unsigned char rbytes[16];
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *h;
	int r = 0;

	if (strcmp(algorithm, "sha256") == 0)
		prefix = "$5$";
	else if (strcmp(algorithm, "sha512") == 0)
		prefix = "$6$";
	else
		return lb_err_set(err, -EINVAL, "unknown password hash "
		    "algorithm '%s'", algorithm);
	if (RAND_bytes(rbytes, sizeof(rbytes)) != 1)
		return lb_err_set(err, -EIO, "cannot get random bytes");
	if (crypt_gensalt_rn(prefix, 0, (const char *)rbytes, sizeof(rbytes),
	    salt, sizeof(salt)) == NULL)
		return lb_err_set(err, -EIO, "cannot make a password salt");
	data = calloc(1, sizeof(*data));
	if (data == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	h = crypt_rn(password, salt, data, sizeof(*data));
	if (h == NULL || h[0] == '*' || strlen(h) >= LB_PASSWD_HASH_MAX)
		r = lb_err_set(err, -EIO, "cannot hash the rescue password");
	else
		memcpy(out, h, strlen(h) + 1);
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	OPENSSL_cleanse(rbytes, sizeof(rbytes));
	return r;
}

bool
lb_passwd_verify(const char *password, const char *hash)
{
	struct crypt_data *data = calloc(1, sizeof(*data));
	const char *h;
	bool ok = false;

	if (data == NULL)
		return false;
	h = crypt_rn(password, hash, data, sizeof(*data));
	if (h != NULL && h[0] != '*' && strlen(h) == strlen(hash))
		ok = CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return ok;
}

bool
lb_passwd_is_blank(const char *password)
{
	if (password == NULL)
		return true;
	for (; *password; password++) {
		if (!isspace((unsigned char)*password))
			return false;
	}
	return true;
}
