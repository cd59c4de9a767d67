/* corral's per-user files and terminal prompts (see conf.h). */
#include "cli/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"

int conf_path(const char *name, int make, char *out, size_t n)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	size_t len;
	int r;

	if (xdg && *xdg)
		r = snprintf(out, n, "%s/corral", xdg);
	else if (home && *home)
		r = snprintf(out, n, "%s/.config/corral", home);
	else
		return -ENOENT;
	if (r < 0 || (size_t)r >= n)
		return -ERANGE;
	if (make && (r = util_mkdir_p(out, 0700)) < 0)
		return r;
	len = strlen(out);
	r = snprintf(out + len, n - len, "/%s", name);
	return r < 0 || (size_t)r >= n - len ? -ERANGE : 0;
}

int conf_load_json(const char *name, cJSON **out)
{
	char path[1024], *text = NULL;
	size_t len;
	int r = conf_path(name, 0, path, sizeof(path));

	*out = NULL;
	if (r < 0)
		return r;
	if (util_read_file(path, 1 << 20, &text, &len) < 0)
		return 0;
	*out = cJSON_ParseWithLength(text, len);
	free(text);
	return *out ? 0 : -EINVAL;
}

int conf_save_json(const char *name, const cJSON *json)
{
	char path[1024], *text;
	int r = conf_path(name, 1, path, sizeof(path));

	if (r < 0)
		return r;
	text = cJSON_Print(json);
	if (!text)
		return -ENOMEM;
	r = util_write_file_atomic(path, text, strlen(text), 0600);
	free(text);
	return r;
}

int tty_available(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return 0;
	close(fd);
	return isatty(STDIN_FILENO) || isatty(STDERR_FILENO);
}

int read_line(FILE *f, char *out, size_t n)
{
	size_t len;

	if (!fgets(out, (int)n, f))
		return -EIO;
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	return 0;
}

/* Asks on /dev/tty with echo switched off (ECHO) or kept (plain). */
static int tty_ask(const char *prompt, int echo, char *out, size_t n)
{
	FILE *tty = fopen("/dev/tty", "r+e");
	struct termios old, quiet;
	int r, restore = 0;

	if (!tty)
		return -ENOTTY;
	/* Echo goes off before the prompt shows: TCSAFLUSH drops what was typed
	 * earlier, never an answer to the prompt. */
	if (!echo && tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	fputs(prompt, tty);
	fflush(tty);
	r = read_line(tty, out, n);
	if (restore) {
		tcsetattr(fileno(tty), TCSANOW, &old);
		fputs("\n", tty);
	}
	fclose(tty);
	return r;
}

int tty_read_secret(const char *prompt, char *out, size_t n)
{
	return tty_ask(prompt, 0, out, n);
}

int tty_confirm(const char *prompt)
{
	char answer[16];

	return tty_ask(prompt, 1, answer, sizeof(answer)) == 0 &&
	       (answer[0] == 'y' || answer[0] == 'Y');
}
