/*
 * fuzz_config.c - libFuzzer target: the bytes are a lifeboat.conf, loaded
 * over the defaults, then checked.  Single-threaded.  Built with
 * -fsanitize=fuzzer, or linked with replay.c to run its corpus
 * (tests/fuzz/corpus/config/) in the normal test suite.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/config.h"

#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_config cfg;
	struct lb_err err;
	char *problems = NULL;
	char url[256];
	int r;

	lb_config_init(&cfg);
	r = lb_config_load_buffer(&cfg, "fuzz.conf", (const char *)data, size,
	    &problems, &err);
	/* a failure always explains itself; a success leaves nothing */
	if ((r == -EINVAL) != (problems != NULL) ||
	    (r == -EINVAL && strncmp(problems, err.msg, strlen(err.msg)) != 0))
		abort();
	free(problems);
	problems = NULL;
	if (r == 0) {
		r = lb_config_check(&cfg, NULL, &problems, &err);
		if ((r == -EINVAL) != (problems != NULL))
			abort();
		free(problems);
		lb_config_database_connection(&cfg, url, sizeof(url));
	}
	lb_config_release(&cfg);
	return 0;
}
