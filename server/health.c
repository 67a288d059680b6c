#include "server/health.h"

#include <event2/buffer.h>

#include "server/server.h"

void health_write_metrics(struct evbuffer *out, const struct server *srv)
{
	(void)srv;
	evbuffer_add_printf(out, "# HELP baedal_build_info The build of the server.\n"
	                         "# TYPE baedal_build_info gauge\n"
	                         "baedal_build_info{version=\"%s\"} 1\n", BAEDAL_VERSION);
}
