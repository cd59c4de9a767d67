/* corral's files and terminal: the per-user directory
 * ($XDG_CONFIG_HOME/corral or ~/.config/corral) holding session.json and
 * known_hosts, and prompts read from /dev/tty. */
#ifndef CORRAL_CLI_CONF_H
#define CORRAL_CLI_CONF_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

/* Path of NAME inside the directory, which is created (0700) when MAKE is set.
 * 0, -ENOENT (no HOME), -ERANGE or a mkdir error. */
int conf_path(const char *name, int make, char *out, size_t n);
/* Reads NAME as JSON; *OUT NULL when the file is absent.  0 or -EINVAL. */
int conf_load_json(const char *name, cJSON **out);
/* Writes JSON to NAME atomically with mode 0600. */
int conf_save_json(const char *name, const cJSON *json);

/* 1 when a terminal is there to ask. */
int tty_available(void);
/* Prints PROMPT on the terminal and reads one line without echo.
 * 0 or -EIO / -ENOTTY. */
int tty_read_secret(const char *prompt, char *out, size_t n);
/* Asks PROMPT on the terminal; 1 for an answer starting with y/Y. */
int tty_confirm(const char *prompt);
/* Reads one line from F (newline removed).  0, or -EIO at end of input. */
int read_line(FILE *f, char *out, size_t n);

#endif
