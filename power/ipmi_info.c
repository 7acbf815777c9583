/*
 * ipmi_info.c - a node's ipmi_* driver_info keys, parsed and validated the
 * way Ironic's ipmitool._parse_driver_info does, with its messages.  Pure:
 * no I/O, no resolver.  Any thread.
 */
#include "power/ipmi_info.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/task.h"
#include "conductor/util/banned.h"

/* How much of a bad value a message quotes. */
#define VALUE_STR_MAX 128

static const char *const priv_names[] = {
	[LB_IPMI_PRIV_CALLBACK] = "CALLBACK",
	[LB_IPMI_PRIV_USER] = "USER",
	[LB_IPMI_PRIV_OPERATOR] = "OPERATOR",
	[LB_IPMI_PRIV_ADMINISTRATOR] = "ADMINISTRATOR",
};

/*
 * Python's repr() of a float, which is what str() prints: the shortest
 * digits that read back the same, fixed notation for exponents -4..15,
 * always with a fractional part ("2.0").
 */
static void
real_str(double d, char *buf, size_t size)
{
	char tmp[64];
	const char *e;
	long exp;
	int prec, decimals;

	if (!isfinite(d)) {
		snprintf(buf, size, "%s", isnan(d) ? "nan" :
		    d < 0 ? "-inf" : "inf");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
	e = strchr(tmp, 'e');
	exp = e != NULL ? strtol(e + 1, NULL, 10) : 0;
	if (exp < -4 || exp >= 16) {
		snprintf(buf, size, "%s", tmp);
		return;
	}
	decimals = prec - 1 - (int)exp;
	snprintf(buf, size, "%.*f", decimals < 1 ? 1 : decimals, d);
}

/* Python's str() of a value, as Ironic would print it in a message. */
static void
value_str(const json_t *v, char *buf, size_t size)
{
	char *s;

	switch (v != NULL ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		snprintf(buf, size, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		break;
	case JSON_REAL:
		real_str(json_real_value(v), buf, size);
		break;
	case JSON_TRUE:
		snprintf(buf, size, "True");
		break;
	case JSON_FALSE:
		snprintf(buf, size, "False");
		break;
	case JSON_NULL:
		snprintf(buf, size, "None");
		break;
	default:
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, size, "%s", s != NULL ? s : "?");
		free(s);
		break;
	}
}

/* Python's truthiness, which decides "missing" for required keys. */
static bool
value_truthy(const json_t *v)
{
	if (v == NULL)
		return false;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0.0;
	case JSON_TRUE:
		return true;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	default:
		return false;
	}
}

/* A key's value; an explicit null counts as absent. */
static const json_t *
get(const json_t *info, const char *key)
{
	const json_t *v = json_object_get(info, key);

	return json_is_null(v) ? NULL : v;
}

static bool
has_nul(const json_t *v)
{
	return strlen(json_string_value(v)) != json_string_length(v);
}

/*
 * Python's int(): a JSON integer, or a string of decimal digits with an
 * optional sign and surrounding white space.  Unlike Python, a fraction
 * and a boolean are refused.  -EINVAL for not a number, -ERANGE for one too
 * large for long long.
 */
static int
value_int(const json_t *v, long long *ret)
{
	const char *s, *p, *end;
	char digits[32];
	double d;
	size_t n;

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		*ret = json_integer_value(v);
		return 0;
	case JSON_REAL:
		d = json_real_value(v);
		if (!isfinite(d) || d != floor(d))
			return -EINVAL;
		if (fabs(d) >= 9.2e18)
			return -ERANGE;
		*ret = (long long)d;
		return 0;
	case JSON_STRING:
		break;
	default:
		return -EINVAL;
	}
	if (has_nul(v))
		return -EINVAL;
	s = json_string_value(v);
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	p = s;
	if (p < end && (*p == '+' || *p == '-'))
		p++;
	if (p == end)
		return -EINVAL;
	for (const char *q = p; q < end; q++)
		if (!isdigit((unsigned char)*q))
			return -EINVAL;
	n = (size_t)(end - s);
	if (n >= sizeof(digits))
		return -ERANGE;
	memcpy(digits, s, n);
	digits[n] = '\0';
	errno = 0;
	*ret = strtoll(digits, NULL, 10);
	return errno == ERANGE ? -ERANGE : 0;
}

/* Ironic's utils.validate_network_port(), with its messages. */
static int
parse_port(const json_t *v, const char *name, unsigned int *ret,
    struct lb_err *err)
{
	char s[VALUE_STR_MAX];
	long long n;
	int r;

	r = value_int(v, &n);
	if (r == -EINVAL) {
		value_str(v, s, sizeof(s));
		return lb_err_set(err, -EINVAL,
		    "%s \"%s\" is not a valid integer.", name, s);
	}
	if (r < 0 || n < 1 || n > 65535) {
		value_str(v, s, sizeof(s));
		return lb_err_set(err, -EINVAL, "%s \"%s\" is out of range. "
		    "Valid port numbers must be between 1 and 65535.",
		    name, s);
	}
	*ret = (unsigned int)n;
	return 0;
}

/*
 * A bridging channel or IPMB address: what ipmitool's -b/-t/-m/-B/-T take
 * (strtoul base 0, so "0x20" and "32" alike), or a JSON integer.
 */
static int
parse_bridge_number(const json_t *v, const char *name, long max, int *ret,
    struct lb_err *err)
{
	char s[VALUE_STR_MAX];
	const char *str;
	char *end;
	long n = -1;

	if (json_is_integer(v)) {
		if (json_integer_value(v) >= 0 && json_integer_value(v) <= max)
			n = (long)json_integer_value(v);
	} else if (json_is_string(v) && !has_nul(v)) {
		str = json_string_value(v);
		if (isdigit((unsigned char)str[0])) {
			errno = 0;
			n = strtol(str, &end, 0);
			if (errno != 0 || *end != '\0' || n > max)
				n = -1;
		}
	}
	if (n < 0) {
		value_str(v, s, sizeof(s));
		return lb_err_set(err, -EINVAL, "Invalid value for %s: %s, "
		    "expected a number from 0 to %ld (0x%lx)", name, s, max,
		    max);
	}
	*ret = (int)n;
	return 0;
}

/* oslo's strutils.bool_from_string(strict=True), plus JSON booleans. */
static int
parse_bool(const json_t *v, const char *name, bool *ret, struct lb_err *err)
{
	static const char *const yes[] = { "1", "t", "true", "on", "y", "yes" };
	static const char *const no[] = { "0", "f", "false", "off", "n", "no" };
	char s[VALUE_STR_MAX], word[8];
	const char *p, *end;
	size_t n;

	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 0;
	}
	if (json_is_integer(v) || (json_is_string(v) && !has_nul(v))) {
		value_str(v, s, sizeof(s));
		for (p = s; isspace((unsigned char)*p); p++)
			;
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		n = (size_t)(end - p);
		if (n < sizeof(word)) {
			for (size_t i = 0; i < n; i++)
				word[i] = (char)tolower((unsigned char)p[i]);
			word[n] = '\0';
			for (size_t i = 0; i < sizeof(yes) / sizeof(*yes);
			    i++) {
				if (strcmp(word, yes[i]) == 0) {
					*ret = true;
					return 0;
				}
				if (strcmp(word, no[i]) == 0) {
					*ret = false;
					return 0;
				}
			}
		}
	}
	value_str(v, s, sizeof(s));
	return lb_err_set(err, -EINVAL, "Invalid value for %s: %s, expected "
	    "a boolean (true, false, yes, no, on, off, 1 or 0)", name, s);
}

static bool
hostname_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/*
 * A host name or IP literal; an IPv6 literal may come in brackets and with
 * a zone ("fe80::1%eth0").  "host:port" is refused: the port has its own
 * key, and a silently ignored port is worse than an error.
 */
static int
parse_address(const json_t *v, struct lb_ipmi_info *info,
    struct lb_err *err)
{
	char s[VALUE_STR_MAX], addr[LB_IPMI_ADDRESS_MAX + 1];
	struct in6_addr in6;
	const char *str;
	size_t len;
	char *zone;

	value_str(v, s, sizeof(s));
	if (!json_is_string(v) || has_nul(v))
		return lb_err_set(err, -EINVAL, "Invalid value for "
		    "ipmi_address: %s, expected a host name or an IP address",
		    s);
	str = json_string_value(v);
	len = strlen(str);
	if (len >= 2 && str[0] == '[' && str[len - 1] == ']') {
		str++;
		len -= 2;
	}
	if (len == 0 || len > LB_IPMI_ADDRESS_MAX)
		return lb_err_set(err, -EINVAL, "Invalid value for "
		    "ipmi_address: %s, expected a host name or an IP address "
		    "of at most %d characters", s, LB_IPMI_ADDRESS_MAX);
	memcpy(addr, str, len);
	addr[len] = '\0';
	if (memchr(addr, ':', len) != NULL) {
		char bare[LB_IPMI_ADDRESS_MAX + 1];

		memcpy(bare, addr, len + 1);
		zone = strchr(bare, '%');
		if (zone != NULL)
			*zone = '\0';
		if (inet_pton(AF_INET6, bare, &in6) != 1 ||
		    (zone != NULL && zone[1] == '\0'))
			return lb_err_set(err, -EINVAL, "Invalid value for "
			    "ipmi_address: %s, expected a host name or an IP "
			    "address (the port goes in ipmi_port)", s);
		info->address_is_ipv6 = true;
	} else {
		for (size_t i = 0; i < len; i++)
			if (!hostname_char(addr[i]))
				return lb_err_set(err, -EINVAL, "Invalid value "
				    "for ipmi_address: %s, expected a host "
				    "name or an IP address", s);
	}
	memcpy(info->address, addr, len + 1);
	return 0;
}

static int
parse_protocol(const json_t *v, struct lb_ipmi_info *info,
    struct lb_err *err)
{
	char s[VALUE_STR_MAX];

	if (v == NULL)
		return 0;
	value_str(v, s, sizeof(s));
	if (strcmp(s, "2.0") == 0)
		info->protocol = LB_IPMI_PROTOCOL_2_0;
	else if (strcmp(s, "1.5") == 0)
		info->protocol = LB_IPMI_PROTOCOL_1_5;
	else
		return lb_err_set(err, -EINVAL, "Invalid IPMI protocol "
		    "version value %s, the valid value can be one of 2.0, 1.5",
		    s);
	return 0;
}

/* Bridging type, then the keys it needs (Ironic's order and messages). */
static int
parse_bridging(const json_t *info_json, struct lb_ipmi_info *info,
    struct lb_err *err)
{
	static const struct {
		const char *key;
		long max;
		size_t offset;
		bool dual_only;
	} keys[] = {
		{ "ipmi_target_channel", 15,
		  offsetof(struct lb_ipmi_info, target_channel), false },
		{ "ipmi_target_address", 255,
		  offsetof(struct lb_ipmi_info, target_address), false },
		{ "ipmi_transit_channel", 15,
		  offsetof(struct lb_ipmi_info, transit_channel), true },
		{ "ipmi_transit_address", 255,
		  offsetof(struct lb_ipmi_info, transit_address), true },
	};
	const json_t *v = get(info_json, "ipmi_bridging");
	char s[VALUE_STR_MAX], missing[256] = "";
	size_t used = 0;
	bool dual;
	int r;

	if (v != NULL) {
		value_str(v, s, sizeof(s));
		if (strcmp(s, "single") == 0)
			info->bridging = LB_IPMI_BRIDGING_SINGLE;
		else if (strcmp(s, "dual") == 0)
			info->bridging = LB_IPMI_BRIDGING_DUAL;
		else if (strcmp(s, "no") != 0)
			return lb_err_set(err, -EINVAL, "Invalid value for "
			    "ipmi_bridging: %s, the valid value can be one of: "
			    "['single', 'dual', 'no']", s);
	}
	if (info->bridging == LB_IPMI_BRIDGING_NO)
		return 0;
	dual = info->bridging == LB_IPMI_BRIDGING_DUAL;

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		if (keys[i].dual_only && !dual)
			continue;
		if (get(info_json, keys[i].key) == NULL)
			used += (size_t)snprintf(missing + used,
			    sizeof(missing) - used, "%s'%s'",
			    used > 0 ? ", " : "", keys[i].key);
	}
	if (used > 0)
		return lb_err_set(err, -EINVAL, "[%s] not provided", missing);

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		if (keys[i].dual_only && !dual)
			continue;
		r = parse_bridge_number(get(info_json, keys[i].key),
		    keys[i].key, keys[i].max,
		    (int *)((char *)info + keys[i].offset), err);
		if (r < 0)
			return r;
	}
	v = get(info_json, "ipmi_local_address");
	if (v != NULL)
		return parse_bridge_number(v, "ipmi_local_address", 255,
		    &info->local_address, err);
	return 0;
}

static int
parse_priv(const json_t *v, struct lb_ipmi_info *info, struct lb_err *err)
{
	char s[VALUE_STR_MAX];

	if (v == NULL)
		return 0;
	value_str(v, s, sizeof(s));
	for (int p = LB_IPMI_PRIV_CALLBACK; p <= LB_IPMI_PRIV_ADMINISTRATOR;
	    p++) {
		if (strcmp(s, priv_names[p]) == 0) {
			info->priv_level = (enum lb_ipmi_priv)p;
			return 0;
		}
	}
	return lb_err_set(err, -EINVAL, "Invalid privilege level value:%s, "
	    "the valid value can be one of ADMINISTRATOR, CALLBACK, OPERATOR, "
	    "USER", s);
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The Kg key is a secret: no message quotes it. */
static int
parse_kg(const json_t *v, struct lb_ipmi_info *info, struct lb_err *err)
{
	char s[2 * LB_IPMI_KG_MAX + 2];
	size_t len;

	if (!value_truthy(v))
		return 0;
	if (json_is_string(v) && has_nul(v))
		return lb_err_set(err, -EINVAL,
		    "ipmi_hex_kg_key is not a hexadecimal number");
	value_str(v, s, sizeof(s));
	len = json_is_string(v) ? json_string_length(v) : strlen(s);
	if (len % 2 != 0)
		return lb_err_set(err, -EINVAL,
		    "Number of ipmi_hex_kg_key characters is not even");
	if (len > 2 * LB_IPMI_KG_MAX)
		return lb_err_set(err, -EINVAL, "ipmi_hex_kg_key is longer "
		    "than %d hexadecimal digits (%d bytes)", 2 * LB_IPMI_KG_MAX,
		    LB_IPMI_KG_MAX);
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);

		if (hi < 0 || lo < 0) {
			explicit_bzero(s, sizeof(s));
			return lb_err_set(err, -EINVAL,
			    "ipmi_hex_kg_key is not a hexadecimal number");
		}
		info->kg[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	info->kg_len = len / 2;
	explicit_bzero(s, sizeof(s));
	return 0;
}

static int
parse_cipher_suite(const json_t *v, struct lb_ipmi_info *info,
    struct lb_err *err)
{
	char s[VALUE_STR_MAX];
	long long n;

	if (v == NULL)
		return 0;
	if (value_int(v, &n) < 0 || !lb_ipmi_cipher_suite_supported(n)) {
		value_str(v, s, sizeof(s));
		return lb_err_set(err, -EINVAL, "Invalid value for "
		    "ipmi_cipher_suite: %s, the valid value can be one of: "
		    "0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17", s);
	}
	if (info->protocol == LB_IPMI_PROTOCOL_1_5)
		return lb_err_set(err, -EINVAL, "ipmi_cipher_suite is only "
		    "used with ipmi_protocol_version 2.0, not 1.5");
	info->cipher_suite = (int)n;
	return 0;
}

static int
parse_username(const json_t *v, struct lb_ipmi_info *info,
    struct lb_err *err)
{
	char s[VALUE_STR_MAX];

	if (v == NULL)
		return 0;
	if (json_is_string(v) && has_nul(v))
		return lb_err_set(err, -EINVAL, "Invalid value for "
		    "ipmi_username: it contains a NUL character");
	value_str(v, s, sizeof(s));
	if (strlen(s) > LB_IPMI_USERNAME_MAX)
		return lb_err_set(err, -EINVAL, "Invalid value for "
		    "ipmi_username: %s, IPMI user names have at most %d "
		    "characters", s, LB_IPMI_USERNAME_MAX);
	memcpy(info->username, s, strlen(s) + 1);
	return 0;
}

/* The password is a secret: no message quotes it. */
static int
parse_password(const json_t *v, struct lb_ipmi_info *info,
    struct lb_err *err)
{
	size_t max = info->protocol == LB_IPMI_PROTOCOL_1_5 ?
	    LB_IPMI_PASSWORD_MAX_1_5 : LB_IPMI_PASSWORD_MAX;
	char s[VALUE_STR_MAX];
	size_t len;

	if (v == NULL)
		return 0;
	if (json_is_string(v)) {
		if (has_nul(v))
			return lb_err_set(err, -EINVAL,
			    "ipmi_password contains a NUL character");
		len = json_string_length(v);
		if (len <= max)
			memcpy(info->password, json_string_value(v), len + 1);
	} else {
		value_str(v, s, sizeof(s));
		len = strlen(s);
		if (len <= max)
			memcpy(info->password, s, len + 1);
		explicit_bzero(s, sizeof(s));
	}
	if (len > max)
		return lb_err_set(err, -EINVAL, "ipmi_password is longer than "
		    "%zu characters, the most IPMI %s allows", max,
		    lb_ipmi_protocol_name(info->protocol));
	return 0;
}

static int
parse_all(const json_t *di, struct lb_ipmi_info *info, struct lb_err *err)
{
	const json_t *v;
	int r;

	if (!value_truthy(get(di, "ipmi_address")))
		return lb_err_set(err, -EINVAL, "Missing the following IPMI "
		    "credentials in node's driver_info: ['ipmi_address'].");
	r = parse_address(get(di, "ipmi_address"), info, err);
	if (r < 0)
		return r;
	r = parse_protocol(get(di, "ipmi_protocol_version"), info, err);
	if (r < 0)
		return r;
	v = get(di, "ipmi_terminal_port");
	if (v != NULL) {
		r = parse_port(v, "ipmi_terminal_port", &info->terminal_port,
		    err);
		if (r < 0)
			return r;
	}
	v = get(di, "ipmi_port");
	if (v != NULL) {
		r = parse_port(v, "ipmi_port", &info->port, err);
		if (r < 0)
			return r;
	}
	r = parse_bridging(di, info, err);
	if (r < 0)
		return r;
	r = parse_priv(get(di, "ipmi_priv_level"), info, err);
	if (r < 0)
		return r;
	r = parse_kg(get(di, "ipmi_hex_kg_key"), info, err);
	if (r < 0)
		return r;
	r = parse_cipher_suite(get(di, "ipmi_cipher_suite"), info, err);
	if (r < 0)
		return r;
	r = parse_username(get(di, "ipmi_username"), info, err);
	if (r < 0)
		return r;
	r = parse_password(get(di, "ipmi_password"), info, err);
	if (r < 0)
		return r;
	v = get(di, "ipmi_workarounds");
	if (v != NULL) {
		r = lb_ipmi_wa_parse_json(v, &info->workarounds, err);
		if (r < 0)
			return r;
		info->workarounds_given = true;
	}
	v = get(di, "ipmi_force_boot_device");
	if (v != NULL) {
		r = parse_bool(v, "ipmi_force_boot_device",
		    &info->force_boot_device, err);
		if (r < 0)
			return r;
	}
	v = get(di, "ipmi_disable_boot_timeout");
	if (v != NULL)
		return parse_bool(v, "ipmi_disable_boot_timeout",
		    &info->disable_boot_timeout, err);
	return 0;
}

int
lb_ipmi_info_parse(const json_t *driver_info, struct lb_ipmi_info *ret_info,
    struct lb_err *err)
{
	struct lb_ipmi_info info;
	int r;

	memset(&info, 0, sizeof(info));
	info.port = LB_IPMI_DEFAULT_PORT;
	info.priv_level = LB_IPMI_PRIV_ADMINISTRATOR;
	info.protocol = LB_IPMI_PROTOCOL_2_0;
	info.cipher_suite = -1;
	info.bridging = LB_IPMI_BRIDGING_NO;
	info.local_address = -1;
	info.transit_channel = -1;
	info.transit_address = -1;
	info.target_channel = -1;
	info.target_address = -1;
	info.disable_boot_timeout = true;

	r = parse_all(json_is_object(driver_info) ? driver_info : NULL, &info,
	    err);
	if (r == 0)
		*ret_info = info;
	lb_ipmi_info_clear(&info);
	return r;
}

void
lb_ipmi_info_clear(struct lb_ipmi_info *info)
{
	if (info != NULL)
		explicit_bzero(info, sizeof(*info));
}

int
lb_ipmi_info_where(const struct lb_ipmi_info *info, char *buf, size_t size)
{
	int n;

	if (info->address_is_ipv6)
		n = snprintf(buf, size, "[%s]:%u", info->address, info->port);
	else
		n = snprintf(buf, size, "%s:%u", info->address, info->port);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

int
lb_ipmi_info_bmc_key(const struct lb_ipmi_info *info, char *buf,
    size_t size)
{
	char where[LB_IPMI_WHERE_MAX + 1];
	int n;

	if (lb_ipmi_info_where(info, where, sizeof(where)) < 0)
		return -EINVAL;
	n = snprintf(buf, size, "ipmi:%s", where);
	if (n < 0 || (size_t)n >= size)
		return -EINVAL;
	for (char *p = buf; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

const char *
lb_ipmi_priv_name(enum lb_ipmi_priv priv)
{
	if (priv < LB_IPMI_PRIV_CALLBACK || priv > LB_IPMI_PRIV_ADMINISTRATOR)
		return "?";
	return priv_names[priv];
}

const char *
lb_ipmi_protocol_name(enum lb_ipmi_protocol protocol)
{
	return protocol == LB_IPMI_PROTOCOL_1_5 ? "1.5" : "2.0";
}

const char *
lb_ipmi_bridging_name(enum lb_ipmi_bridging bridging)
{
	switch (bridging) {
	case LB_IPMI_BRIDGING_SINGLE:
		return "single";
	case LB_IPMI_BRIDGING_DUAL:
		return "dual";
	default:
		return "no";
	}
}

bool
lb_ipmi_cipher_suite_supported(long suite)
{
	return (suite >= 0 && suite <= 3) || (suite >= 6 && suite <= 8) ||
	    (suite >= 11 && suite <= 12) || (suite >= 15 && suite <= 17);
}

/* What GET /v1/drivers/{name}/properties says of the keys parsed above. */
const struct lb_property lb_ipmi_properties[] = {
	{ "ipmi_address", "IP address or hostname of the node's BMC. "
	  "Required." },
	{ "ipmi_username", "username; default is NULL user. Optional." },
	{ "ipmi_password", "password. Optional." },
	{ "ipmi_port", "remote IPMI RMCP port. Optional." },
	{ "ipmi_priv_level", "privilege level; default is ADMINISTRATOR. One "
	  "of ADMINISTRATOR, CALLBACK, OPERATOR, USER. Optional." },
	{ "ipmi_protocol_version", "the version of the IPMI protocol; default "
	  "is \"2.0\". One of \"1.5\", \"2.0\". Optional." },
	{ "ipmi_cipher_suite", "IPMI cipher suite; probed (17, then 3) when "
	  "unset. Optional." },
	{ "ipmi_workarounds", "FreeIPMI workaround flags for BMC bugs, "
	  "comma-separated as ipmipower/ipmiconsole -W takes them (e.g. "
	  "opensesspriv,solpayloadsize; none: no flag); replaces "
	  "[ipmi]workarounds. Optional." },
	{ NULL, NULL },
};
