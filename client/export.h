/* baedal export RUN --svg FILE | --trace FILE: a stored run's SVG timeline
 * or Chrome trace, fetched from the server's HTTP side (docs/http.md). */
#ifndef BAEDAL_EXPORT_H
#define BAEDAL_EXPORT_H

#define EXPORT_DEFAULT_HTTP "127.0.0.1:7879"

/* argv[0] is "export". The exit status: 0, 1 (failed), 2 (usage). */
int export_main(int argc, char **argv);

#endif
