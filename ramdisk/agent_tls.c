/*
 * agent_tls.c - self-signed certificate generation with the OpenSSL API
 * (no openssl(1) in the ramdisk).  Main thread.
 */
#include "agent_tls.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/banned.h"

static int
add_san(X509 *x, const char *host)
{
	unsigned char a[16];
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	char value[300];
	bool ip = inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
	int ok;

	snprintf(value, sizeof(value), "critical,%s:%s", ip ? "IP" : "DNS",
	    host);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_alt_name, value);
	if (ext == NULL)
		return -EINVAL;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -ENOMEM;
}

/* A random positive 159-bit serial, like x509.random_serial_number(). */
static int
set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn != NULL && BN_rand(bn, 159, BN_RAND_TOP_ANY,
	    BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok ? 0 : -EIO;
}

static X509 *
make_cert(EVP_PKEY *key, const char *host)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (x == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 || set_serial(x) < 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -RA_TLS_CLOCK_SKEW_S) ==
	    NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x),
	    (long)RA_TLS_VALID_DAYS * 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)host, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_set_pubkey(x, key) != 1 || add_san(x, host) < 0 ||
	    X509_sign(x, key, EVP_sha512()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static char *
cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (b != NULL && PEM_write_bio_X509(b, x) == 1) {
		n = BIO_get_mem_data(b, &data);
		out = n > 0 ? malloc(n + 1) : NULL;
		if (out != NULL) {
			memcpy(out, data, n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

int
ra_tls_self_signed(const char *host, SSL_CTX **ret_ctx, char **ret_pem,
    struct lb_err *err)
{
	EVP_PKEY *key = EVP_EC_gen("P-384");
	SSL_CTX *ctx = NULL;
	X509 *x = NULL;
	char *pem = NULL;
	int r = 0;

	if (key == NULL) {
		r = lb_err_set(err, -EIO, "cannot generate an EC P-384 key");
		goto out;
	}
	x = make_cert(key, host);
	pem = x ? cert_pem(x) : NULL;
	if (pem == NULL) {
		r = lb_err_set(err, -EIO, "cannot make a certificate for "
		    "'%s'", host);
		goto out;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx,
	    TLS1_2_VERSION) != 1 || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		r = lb_err_set(err, -EIO, "cannot set up the TLS server");
		goto out;
	}
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	*ret_ctx = ctx;
	*ret_pem = pem;
	ctx = NULL;
	pem = NULL;
out:
	SSL_CTX_free(ctx);
	free(pem);
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}
