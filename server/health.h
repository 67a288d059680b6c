/* The loop's own health, measured all the time: how late it runs what came
 * due, busy versus idle time, stalls with their cause, store and pool gauges. */
#ifndef BAEDAL_HEALTH_H
#define BAEDAL_HEALTH_H

#include <stdint.h>

struct evbuffer;
struct server;

/* Appends the Prometheus text exposition (format 0.0.4) of the server's
 * figures to out: the body of GET /metrics. */
void health_write_metrics(struct evbuffer *out, const struct server *srv);

#endif
