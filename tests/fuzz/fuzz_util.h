/*
 * fuzz_util.h - what the fuzz targets share: a scratch directory under
 * $TMPDIR removed at exit, and (where the agent is built in) a rescue
 * agent API with a token on file, rooted in such a directory.  Header
 * only, single-threaded like the targets.
 */
#ifndef LB_FUZZ_UTIL_H
#define LB_FUZZ_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_AGENT_TOKEN "Y4aOHahPC8aA9WKKXGFroPBw9WS4Yg9-l02smy6qan8"

static inline const char *
fuzz_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && t[0] != '\0' ? t : "/tmp";
}

static inline int
fuzz_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void
fuzz_rm_tree(const char *path)
{
	nftw(path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes $TMPDIR/<name>-XXXXXX in 'dir' (size >= 512); aborts on failure. */
static inline void
fuzz_mkdtemp(char *dir, size_t size, const char *name)
{
	snprintf(dir, size, "%s/%s-XXXXXX", fuzz_tmpdir(), name);
	if (mkdtemp(dir) == NULL)
		abort();
}

#ifdef FUZZ_WITH_AGENT
#include "ramdisk/agent_api.h"

static char fuzz_agent_root[512];
static struct ra_api *fuzz_agent;

static inline void
fuzz_agent_cleanup(void)
{
	ra_api_free(fuzz_agent);
	fuzz_rm_tree(fuzz_agent_root);
}

/* The agent API as served over 'scheme', FUZZ_AGENT_TOKEN on file. */
static inline struct ra_api *
fuzz_agent_api(const char *scheme)
{
	struct ra_api_config cfg = {
		.scheme = scheme,
		.default_host = "192.0.2.10:9999",
		.agent_version = "11.2.0",
		.started_at = 1,
	};

	if (fuzz_agent != NULL)
		return fuzz_agent;
	fuzz_mkdtemp(fuzz_agent_root, sizeof(fuzz_agent_root),
	    "lb-fuzz-agent");
	cfg.root = fuzz_agent_root;
	fuzz_agent = ra_api_new(&cfg);
	if (fuzz_agent == NULL ||
	    ra_api_set_token(fuzz_agent, FUZZ_AGENT_TOKEN, true) < 0)
		abort();
	atexit(fuzz_agent_cleanup);
	return fuzz_agent;
}
#endif

#endif
