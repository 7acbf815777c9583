/*
 * ring.h - which conductor manages a node: Ironic's hash rings, one per
 * (conductor group, hardware type) over the alive conductors that serve
 * it, rebuilt from the conductors table every [DEFAULT]
 * hash_ring_reset_interval.  See ring.c for the threads.
 */
#ifndef LB_RING_H
#define LB_RING_H

#include <stdbool.h>

#include "conductor/engine.h"
#include "conductor/node.h"
#include "conductor/store.h"

/* Room for a host name the ring hands out (longer rows are skipped). */
#define LB_RING_HOST_MAX 256

struct lb_ring;

/*
 * Builds the rings once and adds their rebuild to the engine's timers.
 * Engine start, after the conductor row is registered.  0 or -ENOMEM.
 */
int lb_ring_start(struct lb_engine *e);
/* Frees the rings (the timers have stopped).  Engine stop. */
void lb_ring_free(struct lb_engine *e);
/* Rebuilds the rings from the conductors table now.  Any thread. */
void lb_ring_refresh(const struct lb_engine *e);
/*
 * The host the ring maps the node to now, copied into buf: this conductor
 * counts only while its last heartbeat is within [conductor]
 * heartbeat_timeout, the others while their rows are online and as
 * fresh.  NULL when no alive conductor of the node's conductor_group
 * serves its driver.  Any thread.
 */
const char *lb_conductor_of(const struct lb_engine *e,
    const struct lb_node *node, char buf[LB_RING_HOST_MAX]);
/*
 * Whether some alive conductor (this one whatever its heartbeat) of the
 * node's group serves its driver: a node no conductor could act on is
 * refused at create and PATCH, as Ironic's NoValidHost.  Any thread;
 * true without an engine.
 */
bool lb_ring_serves(const struct lb_engine *e, const struct lb_node *node);
/* Whether the ring gives the node to this conductor.  Any thread. */
bool lb_engine_owns(const struct lb_engine *e, const struct lb_node *node);

/* Ironic's alive: online and updated within heartbeat_timeout. */
bool lb_ring_row_alive(const struct lb_engine *e,
    const struct lb_conductor *c);
/*
 * Whether the node was the gone conductor's: its owner on the ring of
 * today's members with the gone one added back.  Any thread.
 */
bool lb_ring_was_owner(const struct lb_engine *e, const struct lb_node *node,
    const struct lb_conductor *gone);

/*
 * Whether the node was this conductor's before 'joined' came: its owner
 * on the ring of today's members without it.  Any thread.
 */
bool lb_ring_was_mine(const struct lb_engine *e, const struct lb_node *node,
    const char *joined);

/* Another alive conductor that manages a node, and where it takes requests. */
struct lb_ring_peer {
	char host[LB_RING_HOST_MAX];
	char url[512];			/* its [conductor] rpc_url */
};

/*
 * 1 with ret filled when the ring gives the node to another alive
 * conductor that registered an rpc_url; 0 when it is this conductor's (or
 * its owner has no rpc_url); -ENOENT when no alive conductor of its group
 * serves its driver (Ironic's NoValidHost).  Any thread.
 */
int lb_ring_peer_of(const struct lb_engine *e, const struct lb_node *node,
    struct lb_ring_peer *ret);

#endif
