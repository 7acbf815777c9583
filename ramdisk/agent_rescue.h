/*
 * agent_rescue.h - what rescue.finalize_rescue does in lifeboat's ramdisk:
 * the password file and marker IPA writes, the "rescue" user (passwd,
 * shadow, home), and starting the SSH server; plus the fork/exec helper
 * the agent starts every program with (no system(), no shell).  The
 * calling thread (API threads for the files; for spawning, the thread that
 * needs the program: DHCP round, main, or the SSH start thread).
 */
#ifndef RA_RESCUE_H
#define RA_RESCUE_H

#include <stdbool.h>
#include <sys/types.h>

#include "conductor/util/err.h"

#define RA_RESCUE_USER "rescue"
#define RA_RESCUE_HOME "/home/rescue"
/* The rescue user's shell: bash when the image has it, else sh. */
#define RA_RESCUE_SHELL "/bin/bash"
#define RA_RESCUE_SHELL_FALLBACK "/bin/sh"
#define RA_PASSWORD_FILE "/etc/ipa-rescue-config/ipa-rescue-password"
#define RA_RESCUED_MARKER "/etc/.rescued"
#define RA_HASH_MAX 512

/* -EINVAL unless 'hash' can be a shadow password field (never quoted). */
int ra_rescue_check_hash(const char *hash, struct lb_err *err);

/*
 * Writes 'hash' verbatim (no newline) to RA_PASSWORD_FILE, creates or
 * updates user "rescue" (home RA_RESCUE_HOME, shell RA_RESCUE_SHELL or,
 * without it under 'root', RA_RESCUE_SHELL_FALLBACK) in
 * /etc/passwd, /etc/shadow (the hash as its password) and /etc/group if
 * there is one, gives it passwordless sudo if /etc/sudoers.d exists, and
 * touches RA_RESCUED_MARKER.  Every path is under 'root' ("/" in the
 * ramdisk).  Files are replaced atomically.  -EIO with a message safe to
 * return to the conductor (it never contains the hash).
 */
int ra_rescue_finalize(const char *root, const char *hash,
    struct lb_err *err);

/*
 * fork/exec of argv (looked up in PATH).  The child gets default signal
 * handling, stdin from /dev/null, and with 'detach' its own session, so it
 * outlives the agent.  *ret_pid may be NULL.
 */
int ra_spawn(char *const argv[], bool detach, pid_t *ret_pid,
    struct lb_err *err);

/* ra_spawn() with "NAME=value" 'extra_env' (NULL: none) added. */
int ra_spawn_env(char *const argv[], const char *extra_env, bool detach,
    pid_t *ret_pid, struct lb_err *err);

/*
 * Starts "SSHD -R -E -p 22" (dropbear: make host keys as needed, log to
 * stderr, daemonize) and gives it up to 'wait_ms' to daemonize.  0 if it
 * went to the background or is still running; -EIO if it exited with an
 * error.  'sshd' may carry extra words ("busybox dropbear").
 */
int ra_rescue_start_sshd(const char *sshd, int wait_ms, struct lb_err *err);

/* Splits 'cmd' at spaces into argv[0..] (at most max-1 words + NULL). */
int ra_split_words(char *cmd, char **argv, int max);

#endif
