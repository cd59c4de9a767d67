/* corrald's settings: defaults, then the configuration file ("key: value"
 * lines, the keys are the long flags' names), then the command-line flags,
 * which win. */
#ifndef CORRAL_CONFIG_H
#define CORRAL_CONFIG_H

#include <stdio.h>

#include "server/app.h"

#define CONFIG_DEFAULT_FILE "/etc/corral/corral.conf"
#define CONFIG_DEFAULT_DATA_DIR "/var/lib/corral"
#define CONFIG_DEFAULT_LISTEN "0.0.0.0:8006"
#define CONFIG_DEFAULT_GOSSIP "0.0.0.0:7946"
#define CONFIG_DEFAULT_WEBUI_DIR "/usr/share/corral/webui"

/* What config_load asks the caller to do besides running. */
enum config_result { CONFIG_RUN = 0, CONFIG_HELP = 1, CONFIG_VERSION = 2 };

/* Fills CFG from defaults, the configuration file (a missing default file is
 * fine, a missing --config file is an error) and ARGV.  Returns a
 * config_result, or a negative code with ERR. */
int config_load(struct app_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* The built-in defaults (host name, CPU count, web UI beside the binary). */
void config_defaults(struct app_config *cfg);
/* Applies "key: value" lines ('#' comments, blank lines).  Pure. */
int config_parse_text(struct app_config *cfg, const char *text, char *err, size_t errlen);
/* Sets one setting by its flag name ("data-dir").  Pure. */
int config_set(struct app_config *cfg, const char *key, const char *value, char *err,
	       size_t errlen);
/* Derives what was left empty: run_dir = DATA/run, log_dir = DATA. */
void config_finish(struct app_config *cfg);
/* "0.0.0.0:8006", "[::]:8006", "[fe80::1]:443".  Pure. */
int config_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port);

void config_usage(FILE *out, const char *prog);

#endif
