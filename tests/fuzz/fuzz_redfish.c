/*
 * fuzz_redfish.c - libFuzzer target feeding one input to every Redfish
 * parser (power/redfish_parse.c), as a BMC reply, as an Allow header and
 * as a redfish_address.
 * Corpus: tests/fuzz/corpus/redfish/.  Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "power/redfish_parse.h"
#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every string so the sanitizers see any bad pointer. */
static size_t
touch(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static size_t
touch_strv(const struct lb_redfish_strv *sv)
{
	size_t n = 0;

	for (size_t i = 0; i < sv->n; i++) {
		n += touch(sv->v[i]);
		if (!lb_redfish_path_is_valid(sv->v[i]))
			n++;
	}
	return n;
}

static void
fuzz_replies(const char *body, size_t size)
{
	struct lb_redfish_root *root;
	struct lb_redfish_collection *coll;
	struct lb_redfish_system *sys;
	struct lb_redfish_manager *mgr;
	struct lb_redfish_vmedia *vm;
	enum lb_boot_device dev;
	char out[LB_REDFISH_PATH_MAX];
	char summary[128];
	struct lb_err err;
	volatile size_t sink = 0;

	if (lb_redfish_root_parse(body, size, &root, &err) == 0) {
		if (!lb_redfish_path_is_valid(root->systems))
			abort();
		sink += touch(root->sessions) + touch(root->managers);
		lb_redfish_root_free(root);
	}
	if (lb_redfish_collection_parse(body, size, &coll, &err) == 0) {
		if (coll->members.n > LB_REDFISH_LIST_MAX)
			abort();
		sink += touch_strv(&coll->members);
		lb_redfish_collection_free(coll);
	}
	if (lb_redfish_system_parse(body, size, &sys, &err) == 0) {
		if (sys->reset_target != NULL &&
		    !lb_redfish_path_is_valid(sys->reset_target))
			abort();
		sink += touch(sys->power_state_raw) + touch(sys->boot_target) +
		    touch(sys->boot_enabled) + touch(sys->boot_mode) +
		    touch(sys->etag) + touch(sys->virtual_media) +
		    touch(sys->manufacturer) + touch(sys->model) +
		    touch_strv(&sys->boot_target_allowed) +
		    touch_strv(&sys->reset_allowed) +
		    touch_strv(&sys->managed_by);
		if (lb_redfish_boot_target_parse(sys->boot_target, &dev) == 0)
			sink += (size_t)dev;
		lb_redfish_system_free(sys);
	}
	if (lb_redfish_manager_parse(body, size, &mgr, &err) == 0) {
		sink += touch(mgr->virtual_media) + touch(mgr->manager_type) +
		    touch(mgr->manufacturer) + touch(mgr->model);
		lb_redfish_manager_free(mgr);
	}
	if (lb_redfish_vmedia_parse(body, size, &vm, &err) == 0) {
		sink += touch(vm->image) + touch(vm->insert_target) +
		    touch(vm->eject_target) + touch_strv(&vm->media_types);
		lb_redfish_vmedia_free(vm);
	}
	if (lb_redfish_odata_id_parse(body, size, out, sizeof(out)) == 0 &&
	    !lb_redfish_path_is_valid(out))
		abort();
	sink += lb_redfish_error_mentions(body, size, "TransferProtocolType") +
	    lb_redfish_error_mentions(body, size, "UserName");
	/* A summary always fits and is NUL-terminated. */
	if (lb_redfish_error_summary(body, size, summary, sizeof(summary)) !=
	    strlen(summary))
		abort();
	(void)sink;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_redfish_address a;
	char *s;

	if (size > 1024 * 1024)
		return 0;
	fuzz_replies((const char *)data, size);
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (lb_redfish_address_parse(s, &a, NULL) == 0) {
		if (a.root[0] != '/' || a.root[strlen(a.root) - 1] != '/' ||
		    a.port == 0 || a.port > 65535 ||
		    strncmp(a.base, a.scheme, strlen(a.scheme)) != 0)
			abort();
	}
	lb_redfish_power_state_map(s);
	/* The Allow header of a virtual media slot (redfish_vmedia.c). */
	for (size_t i = 0; i < 3; i++) {
		static const char *const methods[] = { "PATCH", "POST", "GET" };

		if (lb_redfish_allow_has(s, methods[i]) &&
		    strcasestr(s, methods[i]) == NULL)
			abort();
	}
	free(s);
	return 0;
}
