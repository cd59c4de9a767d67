/* The HTTPS server: libmicrohttpd with TLS 1.2/1.3 (GnuTLS inside MHD), a
 * thread pool on epoll, keep-alive, timeouts, a body limit and security
 * headers.  /api2/json goes to the router, other GETs to the static files. */
#ifndef CORRAL_HTTP_H
#define CORRAL_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct http;

/* API bodies beyond this get 413 (uploads stream through ROUTE_UPLOAD). */
#define HTTP_BODY_LIMIT (64 * 1024)
/* Every 401 is answered after this delay (Proxmox: 3 s), without holding a thread. */
#define HTTP_AUTH_DELAY_MS 3000

struct http_options {
	const char *listen_addr; /* "0.0.0.0", "::", "127.0.0.1" */
	uint16_t port;           /* 0: any free port (see http_port) */
	unsigned threads;        /* 0: one per CPU */
	const char *key_pem;     /* TLS key and certificate, PEM text */
	const char *cert_pem;
	const char *webui_dir;   /* NULL: no web UI files */
	size_t body_limit;       /* 0: HTTP_BODY_LIMIT */
	unsigned idle_timeout;   /* seconds; 0: the default */
	unsigned auth_delay_ms;  /* 0: HTTP_AUTH_DELAY_MS */
};

/* Binds and starts serving.  Returns 0 or a negative code with ERR. */
int http_start(struct app *app, const struct http_options *opt, struct http **out, char *err,
	       size_t errlen);
/* The bound port. */
uint16_t http_port(const struct http *h);
/* Stops accepting, lets the requests in flight finish (bounded), then stops
 * and frees.  NULL is fine. */
void http_stop(struct http *h);

#endif
